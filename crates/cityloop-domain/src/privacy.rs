//! Privacy by role (design.md §9 "a reporter's phone shown to staff who do not need it"):
//! ONE table, [`POLICY`], says for every staff role and every personal field of a case
//! whether a staff reader sees it in full, masked or not at all, and the masking rules.
//!
//! The table is the default; a district may change single cells with [`PrivacySettings`]
//! (the `privacy` settings document), e.g. let handlers call reporters back. Shaping a
//! case for a reader happens in one place in the service (`cityloop-service/src/privacy.rs`),
//! which reads this module; nothing else decides who sees a phone number.
//!
//! `full` for the reporter's phone means "may reveal it": every shaped view (case detail,
//! list rows, exports) carries the masked number, and the full one only comes from the
//! explicit reveal, which the service writes to the audit log first. So a full number is
//! never shown without a who/when/which-case row.
//!
//! Pure: no I/O.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::case::Contact;
use crate::model::{string_enum, Role};

string_enum!(
    /// A personal field of a case that the policy governs.
    PersonalField {
        /// The reporter's name.
        ReporterName = "reporter_name",
        /// The reporter's phone number.
        ReporterPhone = "reporter_phone",
        /// The reporter's e-mail address.
        ReporterEmail = "reporter_email",
        /// Identity numbers the report carried: Open311 `device_id` and `account_id`.
        ReporterIds = "reporter_ids",
        /// The EXIF GPS position in photo originals (where the photographer stood).
        /// `full` also means the original file itself (with its EXIF) may be fetched.
        PhotoGps = "photo_gps",
        /// A party's (当事人) id number (居民身份证号码 …): full only to enforcement
        /// officers (城管执法), who write it on their documents; masked to everyone else.
        PartyIdNumber = "party_id_number",
    }
);

string_enum!(
    /// How much of a field a reader sees. Ordered: hidden < masked < full.
    Access {
        /// Not shown at all (`null`).
        Hidden = "hidden",
        /// Shown masked ([`mask_phone`], [`mask_name`], [`mask_email`], [`mask_id`],
        /// [`mask_gps`]).
        Masked = "masked",
        /// Shown in full (the phone: may be revealed, with an audit row).
        Full = "full",
    }
);

use Access::{Full as F, Hidden as H, Masked as M};

/// The default policy: per role, the access to
/// `[reporter_name, reporter_phone, reporter_email, reporter_ids, photo_gps,
/// party_id_number]`.
///
/// Why: operators (hotline intake, 受理) and supervisors (值班长) call reporters back and
/// answer their complaints, so they may see everything; dispatchers, inspectors and
/// handlers work on the place, not the person (a masked name and phone tell them a
/// reporter exists and who to ask the operator about; GPS tells them where a photo was
/// taken, which their work needs); road chiefs see their street's cases for oversight and
/// need no contact at all; admins maintain the system and read personal data only masked.
/// A party's id number is enforcement's business (issue 20): enforcement officers see it
/// in full, every other role masked; enforcement officers see reporters like handlers.
pub const POLICY: &[(Role, [Access; 6])] = &[
    (Role::Admin, [M, M, M, H, M, M]),
    (Role::Operator, [F, F, F, M, F, M]),
    (Role::Dispatcher, [M, M, H, H, F, M]),
    (Role::Inspector, [M, M, H, H, F, M]),
    (Role::Supervisor, [F, F, F, M, F, M]),
    (Role::Handler, [M, M, H, H, F, M]),
    (Role::RoadChief, [M, H, H, H, M, M]),
    (Role::Enforcer, [M, M, H, H, F, F]),
];

fn column(field: PersonalField) -> usize {
    match field {
        PersonalField::ReporterName => 0,
        PersonalField::ReporterPhone => 1,
        PersonalField::ReporterEmail => 2,
        PersonalField::ReporterIds => 3,
        PersonalField::PhotoGps => 4,
        PersonalField::PartyIdNumber => 5,
    }
}

/// One changed cell of the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyOverride {
    pub role: Role,
    pub field: PersonalField,
    pub access: Access,
}

/// The district's changes to [`POLICY`] (settings document `privacy`). Empty: the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivacySettings {
    #[serde(default)]
    pub overrides: Vec<PolicyOverride>,
}

/// A settings document that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct PrivacyError {
    pub field: String,
    pub problem: String,
}

/// The largest number of overrides (one per cell is enough).
pub const MAX_OVERRIDES: usize = 48;

impl PrivacySettings {
    /// At most one override per (role, field).
    pub fn validate(&self) -> Result<(), PrivacyError> {
        if self.overrides.len() > MAX_OVERRIDES {
            return Err(PrivacyError {
                field: "overrides".into(),
                problem: format!("at most {MAX_OVERRIDES}"),
            });
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, o) in self.overrides.iter().enumerate() {
            if !seen.insert((o.role, o.field)) {
                return Err(PrivacyError {
                    field: format!("overrides[{i}]"),
                    problem: format!("{} / {} is overridden twice", o.role, o.field),
                });
            }
        }
        Ok(())
    }

    /// The access `role` has to `field`: the district's override, else the default.
    pub fn access(&self, role: Role, field: PersonalField) -> Access {
        self.overrides
            .iter()
            .find(|o| o.role == role && o.field == field)
            .map(|o| o.access)
            .unwrap_or_else(|| default_access(role, field))
    }

    /// The whole effective table, role by role (for the admin console).
    pub fn table(&self) -> BTreeMap<Role, BTreeMap<PersonalField, Access>> {
        Role::ALL
            .iter()
            .map(|&r| {
                let row = PersonalField::ALL
                    .iter()
                    .map(|&f| (f, self.access(r, f)))
                    .collect();
                (r, row)
            })
            .collect()
    }
}

/// The default access of [`POLICY`].
pub fn default_access(role: Role, field: PersonalField) -> Access {
    POLICY
        .iter()
        .find(|(r, _)| *r == role)
        .map_or(Access::Hidden, |(_, row)| row[column(field)])
}

/// A mainland mobile number keeps its first 3 and last 4 digits (`138****0000`); other
/// numbers keep their last 4 digits (last 2 when shorter than 8). Separators are dropped;
/// a `+86`/`0086` country prefix before a mobile number is dropped too.
pub fn mask_phone(phone: &str) -> String {
    let mut digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    for prefix in ["0086", "86"] {
        if digits.len() == 11 + prefix.len()
            && digits.starts_with(prefix)
            && digits[prefix.len()..].starts_with('1')
        {
            digits = digits[prefix.len()..].to_owned();
            break;
        }
    }
    let n = digits.len();
    let (head, tail) = match n {
        0 => return "****".into(),
        11 if digits.starts_with('1') => (3, 4),
        8.. => (0, 4),
        _ => (0, n.min(2)),
    };
    let stars = n - head - tail;
    format!(
        "{}{}{}",
        &digits[..head],
        "*".repeat(stars.max(4)),
        &digits[n - tail..]
    )
}

/// A name keeps its first character (`张*`, `欧***`); one character becomes `*`.
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.trim().chars().collect();
    match chars.len() {
        0 | 1 => "*".into(),
        n => format!("{}{}", chars[0], "*".repeat(n - 1)),
    }
}

/// An e-mail address keeps the first character of its local part and the domain
/// (`z***@example.cn`); without `@`, like a name.
pub fn mask_email(email: &str) -> String {
    match email.trim().split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => mask_name(email),
    }
}

/// An identity number keeps its last 4 characters (`****ab12`; shorter ones: `****`).
pub fn mask_id(id: &str) -> String {
    let chars: Vec<char> = id.trim().chars().collect();
    if chars.len() <= 4 {
        return "****".into();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("****{tail}")
}

/// Decimal places a masked GPS position keeps: 0.01° is about 1.1 km north–south, enough
/// to tell which part of the district a photo was taken in, not which doorway.
pub const MASKED_GPS_DECIMALS: i32 = 2;

/// A GPS coordinate rounded to [`MASKED_GPS_DECIMALS`].
pub fn mask_gps(v: f64) -> f64 {
    let k = 10f64.powi(MASKED_GPS_DECIMALS);
    (v * k).round() / k
}

fn shape(v: &Option<String>, access: Access, mask: fn(&str) -> String) -> Option<String> {
    let v = v.as_deref().filter(|s| !s.trim().is_empty())?;
    match access {
        Access::Full => Some(v.to_owned()),
        Access::Masked => Some(mask(v)),
        Access::Hidden => None,
    }
}

/// What a reader was given of the reporter's contact, and whether the full phone may be
/// revealed to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ContactAccess {
    pub name: Access,
    pub phone: Access,
    pub email: Access,
    pub ids: Access,
    /// The case has a phone and the reader may reveal it in full (logged).
    pub phone_revealable: bool,
}

/// The reporter's contact as `role` may see it in a shaped view: the phone is at most
/// masked here, whatever the access (the full one only through the logged reveal).
pub fn shape_contact(c: &Contact, role: Role, s: &PrivacySettings) -> (Contact, ContactAccess) {
    let access = ContactAccess {
        name: s.access(role, PersonalField::ReporterName),
        phone: s.access(role, PersonalField::ReporterPhone),
        email: s.access(role, PersonalField::ReporterEmail),
        ids: s.access(role, PersonalField::ReporterIds),
        phone_revealable: false,
    };
    let phone_view = access.phone.min(Access::Masked);
    let shaped = Contact {
        name: shape(&c.name, access.name, mask_name),
        phone: shape(&c.phone, phone_view, mask_phone),
        email: shape(&c.email, access.email, mask_email),
        device_id: shape(&c.device_id, access.ids, mask_id),
        account_id: shape(&c.account_id, access.ids, mask_id),
        contacted_at: c.contacted_at,
        callback: c.callback,
    };
    let has_phone = c.phone.as_deref().is_some_and(|p| !p.trim().is_empty());
    (
        shaped,
        ContactAccess {
            phone_revealable: has_phone && access.phone == Access::Full,
            ..access
        },
    )
}

/// A photo's EXIF GPS position as `role` may see it.
pub fn shape_gps(gps: Option<(f64, f64)>, role: Role, s: &PrivacySettings) -> Option<(f64, f64)> {
    let (lat, lon) = gps?;
    match s.access(role, PersonalField::PhotoGps) {
        Access::Full => Some((lat, lon)),
        Access::Masked => Some((mask_gps(lat), mask_gps(lon))),
        Access::Hidden => None,
    }
}

/// A party's id number as `role` may see it (full, [`mask_id`], or nothing).
pub fn shape_party_id(id: Option<&str>, role: Role, s: &PrivacySettings) -> Option<String> {
    let id = id.map(str::trim).filter(|v| !v.is_empty())?;
    match s.access(role, PersonalField::PartyIdNumber) {
        Access::Full => Some(id.to_owned()),
        Access::Masked => Some(mask_id(id)),
        Access::Hidden => None,
    }
}

/// Whether `role` may fetch photo originals (their EXIF carries the full GPS position).
pub fn may_fetch_originals(role: Role, s: &PrivacySettings) -> bool {
    s.access(role, PersonalField::PhotoGps) == Access::Full
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_one_row_per_role() {
        for role in Role::ALL {
            assert_eq!(
                POLICY.iter().filter(|(r, _)| r == role).count(),
                1,
                "{role}"
            );
        }
        assert_eq!(POLICY.len(), Role::ALL.len());
    }

    #[test]
    fn a_mobile_number_keeps_its_first_three_and_last_four_digits() {
        assert_eq!(mask_phone("13800000000"), "138****0000");
        assert_eq!(mask_phone("138-1234-5678"), "138****5678");
        assert_eq!(mask_phone("+86 139 1234 5678"), "139****5678");
        assert_eq!(mask_phone("008613912345678"), "139****5678");
        // A landline keeps its last four; short numbers their last two.
        assert_eq!(mask_phone("0371-67891234"), "********1234");
        assert_eq!(mask_phone("12345"), "****45");
        assert_eq!(mask_phone("无"), "****");
    }

    #[test]
    fn names_emails_and_ids_are_masked_to_their_first_or_last_characters() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name("李"), "*");
        assert_eq!(mask_email("zhang.san@example.cn"), "z***@example.cn");
        assert_eq!(mask_id("device-00ab12"), "****ab12");
        assert_eq!(mask_id("ab1"), "****");
        assert_eq!(mask_gps(34.756_789), 34.76);
        assert_eq!(mask_gps(113.654_321), 113.65);
    }

    fn contact() -> Contact {
        Contact {
            name: Some("张三".into()),
            email: Some("zhang.san@example.cn".into()),
            phone: Some("13812345678".into()),
            device_id: Some("device-00ab12".into()),
            account_id: None,
            ..Contact::default()
        }
    }

    #[test]
    fn a_handler_sees_a_masked_phone_and_no_email_by_default() {
        let (c, a) = shape_contact(&contact(), Role::Handler, &PrivacySettings::default());
        assert_eq!(c.phone.as_deref(), Some("138****5678"));
        assert_eq!(c.name.as_deref(), Some("张*"));
        assert_eq!(c.email, None);
        assert_eq!(c.device_id, None);
        assert!(!a.phone_revealable);
    }

    #[test]
    fn an_operator_may_reveal_the_phone_but_the_shaped_view_is_masked() {
        let (c, a) = shape_contact(&contact(), Role::Operator, &PrivacySettings::default());
        assert_eq!(c.phone.as_deref(), Some("138****5678"));
        assert_eq!(c.name.as_deref(), Some("张三"));
        assert_eq!(c.email.as_deref(), Some("zhang.san@example.cn"));
        assert_eq!(c.device_id.as_deref(), Some("****ab12"));
        assert!(a.phone_revealable);
    }

    #[test]
    fn a_road_chief_sees_no_phone_and_masked_gps() {
        let s = PrivacySettings::default();
        let (c, a) = shape_contact(&contact(), Role::RoadChief, &s);
        assert_eq!(c.phone, None);
        assert_eq!(a.phone, Access::Hidden);
        assert_eq!(
            shape_gps(Some((34.756_789, 113.654_321)), Role::RoadChief, &s),
            Some((34.76, 113.65))
        );
        assert!(!may_fetch_originals(Role::RoadChief, &s));
        assert!(may_fetch_originals(Role::Handler, &s));
    }

    #[test]
    fn a_district_override_lets_handlers_reveal_the_phone() {
        let s = PrivacySettings {
            overrides: vec![PolicyOverride {
                role: Role::Handler,
                field: PersonalField::ReporterPhone,
                access: Access::Full,
            }],
        };
        s.validate().unwrap();
        let (c, a) = shape_contact(&contact(), Role::Handler, &s);
        assert_eq!(c.phone.as_deref(), Some("138****5678"));
        assert!(a.phone_revealable);
        assert_eq!(s.table()[&Role::Handler][&PersonalField::ReporterPhone], F);
        assert_eq!(
            s.table()[&Role::Dispatcher][&PersonalField::ReporterPhone],
            M
        );
    }

    #[test]
    fn an_override_given_twice_is_refused_naming_it() {
        let o = PolicyOverride {
            role: Role::Handler,
            field: PersonalField::ReporterPhone,
            access: Access::Full,
        };
        let s = PrivacySettings {
            overrides: vec![o.clone(), o],
        };
        assert_eq!(s.validate().unwrap_err().field, "overrides[1]");
    }

    #[test]
    fn a_party_id_number_is_full_only_to_enforcement_officers() {
        let s = PrivacySettings::default();
        let id = Some("410103199001011234");
        assert_eq!(
            shape_party_id(id, Role::Enforcer, &s).as_deref(),
            Some("410103199001011234")
        );
        for role in Role::ALL.iter().filter(|r| **r != Role::Enforcer) {
            assert_eq!(
                shape_party_id(id, *role, &s).as_deref(),
                Some("****1234"),
                "{role}"
            );
        }
        assert_eq!(shape_party_id(Some(" "), Role::Enforcer, &s), None);
    }

    #[test]
    fn a_case_without_a_phone_has_nothing_to_reveal() {
        let c = Contact {
            phone: Some("  ".into()),
            ..Contact::default()
        };
        let (shaped, a) = shape_contact(&c, Role::Supervisor, &PrivacySettings::default());
        assert_eq!(shaped.phone, None);
        assert!(!a.phone_revealable);
    }
}
