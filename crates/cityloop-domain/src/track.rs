//! What a citizen can follow of their own case: the short query code (查询码) printed on the
//! receipt, and the case's steps told in citizen words.
//!
//! **The query code** stands for a case number without storing anything: it packs the
//! number's local date and daily sequence with a keyed MAC, in 12 Crockford base32
//! characters shown as `XXXX-XXXX-XXXX`. Decoding gives the number back only when the MAC
//! matches, so the code is also a capability: only the receipt's holder (or whoever they
//! give it to) can open the case page of a case that is not published (a 12345 call) or,
//! later, rate it. Bits: 16 for the day since 2020-01-01 (until 2199), 17 for the sequence
//! (a day's first 131,071 cases; a later case has no code and is tracked by number), 27 of
//! MAC (HMAC-SHA256 under the district's secret): one guess in 134 million hits a given
//! case, and guesses are rate-limited per address by the HTTP layer.
//!
//! **The steps**: each event of the history told as the citizen may read it, from fixed
//! wording per kind of step (never a staff `note` or `reason`: see `public.rs`), with the
//! reply staff wrote for the citizen (答复市民) where one was written. Steps that are internal
//! to the command centre (a returned dispatch, a refused extension, a roll-back) are told
//! as what they mean to the citizen, or not at all.

use chrono::{DateTime, NaiveDate, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::case::{Event, EventKind};
use crate::ids::CaseNumber;
use crate::public::{PublicLang, PublicReason};
use crate::workflow::Action;

/// Crockford's base32 alphabet: no I, L, O or U, so a code read aloud or retyped survives.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(2020, 1, 1) {
    Some(d) => d,
    None => panic!("2020-01-01 is a date"),
};
const DAY_BITS: u32 = 16;
const SEQ_BITS: u32 = 17;
const MAC_BITS: u32 = 27;
/// Characters in a code (without the two hyphens).
pub const CODE_CHARS: usize = 12;
/// The largest daily sequence that has a code.
pub const MAX_CODE_SEQ: i64 = (1 << SEQ_BITS) - 1;

/// A case number split into what the code carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberParts {
    pub date: NaiveDate,
    pub seq: i64,
}

/// Splits `410103-20261201-0042` into its date and sequence; `None` for another shape
/// (an imported number, say).
pub fn number_parts(number: &CaseNumber, district_code: &str) -> Option<NumberParts> {
    let rest = number
        .as_str()
        .strip_prefix(district_code)?
        .strip_prefix('-')?;
    let (date, seq) = rest.split_once('-')?;
    if date.len() != 8 || !seq.bytes().all(|b| b.is_ascii_digit()) || seq.len() < 4 {
        return None;
    }
    let date = NaiveDate::parse_from_str(date, "%Y%m%d").ok()?;
    let seq: i64 = seq.parse().ok()?;
    Some(NumberParts { date, seq })
}

fn mac(key: &[u8], day: u64, seq: u64) -> u64 {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for HMAC.
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(key) else {
        return 0;
    };
    m.update(b"cityloop query code v1");
    m.update(&day.to_be_bytes());
    m.update(&seq.to_be_bytes());
    let out = m.finalize().into_bytes();
    let mut first = [0u8; 8];
    first.copy_from_slice(&out[..8]);
    u64::from_be_bytes(first) >> (64 - MAC_BITS)
}

/// The query code of a case number, or `None` when its date or sequence is out of the
/// code's range (or the number has another shape).
pub fn encode(number: &CaseNumber, district_code: &str, key: &[u8]) -> Option<String> {
    let p = number_parts(number, district_code)?;
    let day = u64::try_from((p.date - EPOCH).num_days()).ok()?;
    if day >= 1 << DAY_BITS || p.seq < 1 || p.seq > MAX_CODE_SEQ {
        return None;
    }
    let seq = p.seq as u64;
    let bits = (day << (SEQ_BITS + MAC_BITS)) | (seq << MAC_BITS) | mac(key, day, seq);
    let mut chars = [0u8; CODE_CHARS];
    for (i, c) in chars.iter_mut().enumerate() {
        let shift = 5 * (CODE_CHARS - 1 - i);
        *c = ALPHABET[((bits >> shift) & 31) as usize];
    }
    let s: String = chars.iter().map(|&b| b as char).collect();
    Some(format!("{}-{}-{}", &s[..4], &s[4..8], &s[8..]))
}

/// Whether `s` is shaped like a query code (12 base32 characters, hyphens and spaces
/// ignored, any case), as opposed to a case number.
pub fn looks_like_code(s: &str) -> bool {
    normalise(s).is_some()
}

fn normalise(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(CODE_CHARS);
    for c in s.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        let v = ALPHABET.iter().position(|&a| a as char == c)?;
        out.push(v as u8);
        if out.len() > CODE_CHARS {
            return None;
        }
    }
    (out.len() == CODE_CHARS).then_some(out)
}

/// The case number a code stands for, when its MAC matches; `None` for anything else.
pub fn decode(code: &str, district_code: &str, key: &[u8]) -> Option<CaseNumber> {
    let digits = normalise(code)?;
    let bits = digits
        .iter()
        .fold(0u64, |acc, &d| (acc << 5) | u64::from(d));
    let m = bits & ((1 << MAC_BITS) - 1);
    let seq = (bits >> MAC_BITS) & ((1 << SEQ_BITS) - 1);
    let day = bits >> (SEQ_BITS + MAC_BITS);
    if seq == 0 || mac(key, day, seq) != m {
        return None;
    }
    let date = EPOCH.checked_add_days(chrono::Days::new(day))?;
    Some(CaseNumber::new(district_code, date, seq as i64))
}

/// One step of a case as the citizen is told it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PublicStep {
    pub at: DateTime<Utc>,
    /// What happened, in fixed citizen wording.
    pub text: String,
    /// The reply staff wrote for the citizen with this step (答复市民), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// Photos of this step (attachment ids or media URLs): the report's, or the handler's
    /// after the fix.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<String>,
}

/// The citizen's words for one event, or `None` for a step that is internal to the
/// command centre and changes nothing the citizen was told. `unit` names a unit by id.
fn step_text(
    e: &Event,
    unit: &dyn Fn(&Event) -> Option<String>,
    lang: PublicLang,
) -> Option<String> {
    let zh = lang == PublicLang::Zh;
    let pick = |z: &str, en: &str| Some(if zh { z.to_owned() } else { en.to_owned() });
    match e.kind {
        EventKind::Reported(_) => pick("提交反映", "Report submitted"),
        EventKind::Act(a) => match a {
            Action::Accept => pick("已受理", "Accepted"),
            Action::Confirm => pick("经现场核实，问题属实", "Confirmed on site"),
            Action::Register => pick("已立案", "Registered as a case"),
            Action::Dispatch => Some(match (unit(e), zh) {
                (Some(u), true) => format!("已派遣至{u}处置"),
                (None, true) => "已派遣处置单位".into(),
                (Some(u), false) => format!("Sent to {u} to fix"),
                (None, false) => "Sent to a unit to fix".into(),
            }),
            Action::Return => pick("重新安排处置单位", "A different unit is being assigned"),
            Action::ApproveExtension => pick("处置时限已延长", "More time granted to fix it"),
            Action::Suspend => pick("暂缓处理", "Put on hold"),
            Action::Resume => pick("恢复处理", "Work resumed"),
            Action::ReportBack => pick("处置单位反馈已处理完毕", "The unit reports it fixed"),
            Action::CheckPass => pick("经现场核查，处理到位", "Checked on site: fixed"),
            Action::CheckFail => pick(
                "经现场核查，处理未到位，退回重新处置",
                "Checked on site: not fixed yet, sent back to the unit",
            ),
            Action::Callback => match e.satisfaction {
                Some(crate::workflow::Satisfaction::Unsatisfied) => pick(
                    "回访时反映问题仍未解决，已重新安排处理",
                    "At the call-back the reporter said it is not fixed; it is being handled again",
                ),
                Some(crate::workflow::Satisfaction::Unreached) => pick(
                    "回访未能联系上反映人",
                    "The reporter could not be reached for the call-back",
                ),
                _ => pick("已回访反映人", "The reporter was called back"),
            },
            Action::Close => pick("已办结", "Closed"),
            Action::Void => Some(match (e.public_reason.unwrap_or(PublicReason::Other), zh) {
                (r, true) => format!("不予受理：{}", r.zh()),
                (r, false) => format!("Not taken up: {}", r.en()),
            }),
            Action::NotTrue => pick(
                "经现场核实，未发现所反映的问题，不予立案",
                "Checked on site: the problem was not found; not taken up",
            ),
            Action::Redispatch => Some(match (unit(e), zh) {
                (Some(u), true) => format!("已改派至{u}处置"),
                (None, true) => "已改派其他处置单位".into(),
                (Some(u), false) => format!("Sent to {u} to fix instead"),
                (None, false) => "Sent to a different unit to fix".into(),
            }),
            // The master's number is public (it is published like this one).
            Action::Merge => Some(match (&e.merge_into, zh) {
                (Some(m), true) => format!("重复反映，已并入案件 {} 一并处理", m.number),
                (None, true) => "重复反映，已并入其他案件处理".into(),
                (Some(m), false) => format!("A duplicate: handled under case {}", m.number),
                (None, false) => "A duplicate: handled under another case".into(),
            }),
            // Internal: a request nobody outside asked for, or a refusal of it, or an
            // operator stepping back a stage, or the command centre urging a unit on; the
            // citizen's view is unchanged.
            Action::RequestExtension
            | Action::RefuseExtension
            | Action::RollBack
            | Action::Supervise => None,
            // Co-handling among units is internal to the command centre: the citizen
            // follows the lead unit's handling.
            Action::AssistAdd
            | Action::AssistReport
            | Action::AssistReturn
            | Action::AssistRelease
            | Action::AssistExtend => None,
        },
    }
}

/// The case's history for the citizen, oldest first: one step per event that means
/// something to them (see [`step_text`]), a reply written for them kept even on a step
/// that is otherwise internal.
pub fn public_steps(
    events: &[Event],
    unit_name: &dyn Fn(&Event) -> Option<String>,
    lang: PublicLang,
) -> Vec<PublicStep> {
    let mut steps = Vec::new();
    for e in events {
        let reply = e.public_reply.clone().filter(|r| !r.trim().is_empty());
        let photos = match e.kind {
            EventKind::Reported(_) => e.attachments.clone(),
            EventKind::Act(Action::ReportBack) => e.attachments.clone(),
            _ => Vec::new(),
        };
        let text = match step_text(e, unit_name, lang) {
            Some(t) => t,
            None if reply.is_some() => {
                if lang == PublicLang::Zh {
                    "答复市民".to_owned()
                } else {
                    "Reply".to_owned()
                }
            }
            None => continue,
        };
        steps.push(PublicStep {
            at: e.at,
            text,
            reply,
            photos,
        });
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"a district secret of thirty-two!";

    fn number(date: (i32, u32, u32), seq: i64) -> CaseNumber {
        CaseNumber::new(
            "410103",
            NaiveDate::from_ymd_opt(date.0, date.1, date.2).expect("date"),
            seq,
        )
    }

    #[test]
    fn a_code_decodes_to_its_number_only_under_its_key() {
        let n = number((2026, 12, 1), 42);
        let code = encode(&n, "410103", KEY).expect("a code");
        assert_eq!(code.len(), CODE_CHARS + 2);
        assert_eq!(code.matches('-').count(), 2);
        assert_eq!(decode(&code, "410103", KEY), Some(n.clone()));
        assert_eq!(decode(&code, "410103", b"another key"), None);
    }

    #[test]
    fn a_code_survives_retyping_in_lower_case_with_spaces_and_look_alikes() {
        let n = number((2027, 2, 10), 7);
        let code = encode(&n, "410103", KEY).expect("a code");
        let retyped = code
            .replace('-', " ")
            .to_lowercase()
            .replace('0', "o")
            .replace('1', "l");
        assert_eq!(decode(&retyped, "410103", KEY), Some(n));
    }

    #[test]
    fn one_changed_character_is_refused() {
        let code = encode(&number((2026, 5, 6), 1234), "410103", KEY).expect("a code");
        let mut refused = 0;
        let chars: Vec<char> = code.chars().collect();
        for i in (0..chars.len()).filter(|&i| chars[i] != '-') {
            for &a in ALPHABET.iter() {
                let a = a as char;
                if a == chars[i] {
                    continue;
                }
                let mut c = chars.clone();
                c[i] = a;
                let s: String = c.into_iter().collect();
                match decode(&s, "410103", KEY) {
                    None => refused += 1,
                    // Only a change in the MAC's own bits could collide, and 27 bits do not
                    // collide among 31 × 12 variants of one code.
                    Some(n) => panic!("{s} decoded to {n}"),
                }
            }
        }
        assert_eq!(refused, 12 * 31);
    }

    #[test]
    fn numbers_outside_the_codes_range_have_none() {
        assert_eq!(encode(&number((2019, 12, 31), 1), "410103", KEY), None);
        assert_eq!(
            encode(&number((2026, 1, 1), MAX_CODE_SEQ + 1), "410103", KEY),
            None
        );
        assert!(encode(&number((2026, 1, 1), MAX_CODE_SEQ), "410103", KEY).is_some());
        assert_eq!(
            encode(&CaseNumber("BOS-311-123".into()), "410103", KEY),
            None
        );
        assert_eq!(encode(&number((2026, 1, 1), 5), "410102", KEY), None);
    }

    #[test]
    fn codes_and_numbers_are_told_apart() {
        let code = encode(&number((2026, 12, 1), 42), "410103", KEY).expect("a code");
        assert!(looks_like_code(&code));
        assert!(!looks_like_code("410103-20261201-0042"));
        assert!(!looks_like_code("ABCD-EFGH-JKM"));
        assert!(!looks_like_code("ABCD-EFGH-JKMNP"));
        assert!(!looks_like_code("ABCD-EFGH-JKMU"));
    }
    fn ev(seq: i64, kind: EventKind) -> Event {
        use crate::model::{Actor, ActorRole};
        Event {
            case_id: crate::ids::CaseId::new_v7(),
            seq,
            at: DateTime::from_timestamp(1_780_000_000 + seq * 600, 0).expect("time"),
            kind,
            actor: Actor {
                person_id: None,
                role: ActorRole::System,
                unit_id: None,
            },
            from_state: None,
            to_state: crate::workflow::CaseState::Received,
            note: Some("内部备注：不得公开".into()),
            reason: Some("内部原因：不得公开".into()),
            unit_id: None,
            extension: None,
            attachments: Vec::new(),
            category: None,
            clock_after: None,
            public_note: Some("旧版混合备注".into()),
            public_reply: None,
            public_reason: None,
            satisfaction: None,
            previous_category: None,
            priority: None,
            routed_unit: None,
            previous_unit: None,
            merge_into: None,
            assists_after: None,
            report: None,
        }
    }

    #[test]
    fn steps_tell_each_event_in_citizen_words_and_never_a_note() {
        let act = |seq, a| ev(seq, EventKind::Act(a));
        let mut report = ev(1, EventKind::REPORTED);
        report.attachments = vec!["before-photo".into()];
        let mut dispatch = act(4, Action::Dispatch);
        dispatch.unit_id = Some(crate::ids::UnitId::new_v7());
        let mut refused = act(5, Action::RequestExtension);
        refused.public_reply = Some("   ".into());
        let mut back = act(6, Action::ReportBack);
        back.attachments = vec!["after-photo".into()];
        back.public_reply = Some("井盖已更换，感谢您的反映".into());
        let mut rollback = act(7, Action::RollBack);
        rollback.public_reply = Some("已补充核实".into());
        let events = vec![
            report,
            act(2, Action::Accept),
            act(3, Action::Register),
            dispatch,
            refused,
            back,
            rollback,
            act(8, Action::CheckFail),
            act(9, Action::Close),
        ];
        let unit = |e: &Event| e.unit_id.map(|_| "市政设施中心".to_owned());
        let steps = public_steps(&events, &unit, PublicLang::Zh);
        let texts: Vec<&str> = steps.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "提交反映",
                "已受理",
                "已立案",
                "已派遣至市政设施中心处置",
                "处置单位反馈已处理完毕",
                "答复市民",
                "经现场核查，处理未到位，退回重新处置",
                "已办结",
            ]
        );
        assert_eq!(steps[0].photos, ["before-photo"]);
        assert_eq!(steps[4].photos, ["after-photo"]);
        assert_eq!(steps[4].reply.as_deref(), Some("井盖已更换，感谢您的反映"));
        assert_eq!(steps[5].reply.as_deref(), Some("已补充核实"));
        let json = serde_json::to_string(&steps).expect("json");
        assert!(!json.contains("内部") && !json.contains("旧版"), "{json}");
        let en = public_steps(&events, &unit, PublicLang::En);
        assert_eq!(en[3].text, "Sent to 市政设施中心 to fix");
        assert_eq!(en[5].text, "Reply");
    }

    #[test]
    fn a_void_tells_its_public_reason_category() {
        let mut void = ev(2, EventKind::Act(Action::Void));
        void.public_reason = Some(PublicReason::OutsideDistrict);
        let steps = public_steps(
            &[ev(1, EventKind::REPORTED), void],
            &|_| None,
            PublicLang::Zh,
        );
        assert_eq!(steps[1].text, "不予受理：不在本区管辖范围");
    }
}
