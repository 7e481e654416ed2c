//! Open311 parameters off the wire: query strings and form bodies (keys arrive
//! percent-encoded, `attribute[CODE]` and `attribute[CODE][]` repeat), the language a
//! client asks for, and lenient W3C date-times (an unencoded `+08:00` arrives as a space).
//! An empty parameter counts as absent (spec: `status=` ≡ no `status`).

use std::collections::BTreeMap;

use axum::http::{header, HeaderMap};
use chrono::{DateTime, NaiveDate, Utc};
use cityloop_service::open311::{Lang, PublicReport};

use crate::extract::{decode_form, BadPair, BadText};

/// Decoded `name=value` pairs, in order, from the body first and then the query string.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Parses `application/x-www-form-urlencoded` text (also a query string) strictly:
    /// a NUL or invalid UTF-8 in a name or value is refused naming the field.
    pub fn parse(bytes: &[u8]) -> Result<Self, BadPair> {
        decode_form(bytes).map(Params)
    }

    /// [`Params::parse`] for reading the language of an answer that is an error anyway:
    /// undecodable text is replaced.
    pub fn parse_lossy(bytes: &[u8]) -> Self {
        Params(
            form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// Adds one decoded pair (a multipart field).
    pub fn push(&mut self, name: String, value: String) {
        self.0.push((name, value));
    }

    /// Appends another set (later sets lose to earlier ones in [`Params::get`]).
    pub fn extend(&mut self, other: Params) {
        self.0.extend(other.0);
    }

    /// The first non-empty value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every non-empty value of `name`, and of every repeat of the key.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn owned(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    /// The `attribute[CODE]` / `attribute[CODE][]` answers.
    pub fn attributes(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in &self.0 {
            let Some(rest) = k.strip_prefix("attribute[") else {
                continue;
            };
            let Some((code, tail)) = rest.split_once(']') else {
                continue;
            };
            if code.is_empty() || !(tail.is_empty() || tail == "[]") || v.trim().is_empty() {
                continue;
            }
            out.entry(code.to_owned()).or_default().push(v.clone());
        }
        out
    }
}

/// A bad parameter: which one and why (shown in the Open311 error description).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadParam {
    pub name: String,
    pub problem: String,
}

fn bad(name: &str, lang: Lang, zh: &str, en: &str) -> BadParam {
    BadParam {
        name: name.to_owned(),
        problem: lang.pick(zh, en).to_owned(),
    }
}

/// A refused text input ([`decode_form`]) as the Open311 error names it.
pub fn bad_text(b: &BadPair, lang: Lang) -> BadParam {
    match b.problem {
        BadText::Nul => bad(
            &b.field,
            lang,
            "不能含 NUL（U+0000）字符",
            "must not contain NUL (U+0000) characters",
        ),
        BadText::InvalidUtf8 => bad(&b.field, lang, "不是有效的 UTF-8", "is not valid UTF-8"),
    }
}

fn number(p: &Params, name: &'static str, lang: Lang) -> Result<Option<f64>, BadParam> {
    p.get(name)
        .map(|v| {
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| bad(name, lang, "须为十进制数", "must be a decimal number"))
        })
        .transpose()
}

/// The report a POST carries.
pub fn report(p: &Params, lang: Lang) -> Result<PublicReport, BadParam> {
    Ok(PublicReport {
        service_code: p.owned("service_code").unwrap_or_default(),
        lat: number(p, "lat", lang)?,
        long: number(p, "long", lang)?,
        address_string: p.owned("address_string"),
        address_id: p.owned("address_id"),
        attributes: p.attributes(),
        description: p.owned("description"),
        media_urls: p.all("media_url"),
        email: p.owned("email"),
        device_id: p.owned("device_id"),
        account_id: p.owned("account_id"),
        first_name: p.owned("first_name"),
        last_name: p.owned("last_name"),
        phone: p.owned("phone"),
    })
}

/// The language: `locale=en…` / `locale=zh…` first, else the first `Accept-Language`
/// tag; Chinese unless English is asked for.
pub fn lang(query: &Params, headers: &HeaderMap) -> Lang {
    let is_en = |s: &str| s.trim().to_ascii_lowercase().starts_with("en");
    if let Some(l) = query.get("locale") {
        return if is_en(l) { Lang::En } else { Lang::Zh };
    }
    let first = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .unwrap_or("");
    if is_en(first) {
        Lang::En
    } else {
        Lang::Zh
    }
}

/// A W3C date-time with a mandatory zone (`Z` or `±hh:mm`, also `±hhmm`), fractional
/// seconds allowed, `T…` followed by a space read as `+` (an unencoded `+`); a bare date
/// is midnight in the district's zone (`midnight`).
pub fn date(
    v: &str,
    midnight: impl Fn(NaiveDate) -> Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    let v = v.trim();
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return midnight(d);
    }
    let fixed = match v.find('T') {
        Some(t) if v[t..].contains(' ') => {
            let (head, tail) = v.split_at(t);
            format!("{head}{}", tail.replacen(' ', "+", 1))
        }
        _ => v.to_owned(),
    };
    DateTime::parse_from_rfc3339(&fixed)
        .or_else(|_| DateTime::parse_from_str(&fixed, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn midnight(d: NaiveDate) -> Option<DateTime<Utc>> {
        Some(d.and_hms_opt(0, 0, 0)?.and_utc() - chrono::Duration::hours(8))
    }

    #[test]
    fn encoded_attribute_keys_and_repeats_are_decoded() {
        let p = Params::parse(
            "service_code=01001&attribute%5Bcover_state%5D=missing&attribute[lanes][]=walk&attribute[lanes][]=bike&attribute[x]=&status=".as_bytes(),
        )
        .unwrap();
        let a = p.attributes();
        assert_eq!(a["cover_state"], ["missing"]);
        assert_eq!(a["lanes"], ["walk", "bike"]);
        assert!(!a.contains_key("x"));
        assert_eq!(p.get("status"), None);
        assert_eq!(p.get("service_code"), Some("01001"));
    }

    #[test]
    fn nul_and_invalid_utf8_are_refused_naming_the_field() {
        let e = Params::parse(b"service_code=01001&description=a%00b").unwrap_err();
        assert_eq!((e.field.as_str(), e.problem), ("description", BadText::Nul));
        let e = Params::parse(b"first_name=%C3%28").unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.problem),
            ("first_name", BadText::InvalidUtf8)
        );
        let e = Params::parse(b"a%00=1").unwrap_err();
        assert_eq!(e.problem, BadText::Nul);
        let ok = Params::parse("description=%E4%BA%95+%E7%9B%96&x".as_bytes()).unwrap();
        assert_eq!(ok.get("description"), Some("井 盖"));
        assert_eq!(ok.0.len(), 2);
    }

    #[test]
    fn dates_are_read_leniently_but_need_a_zone() {
        let want = "2026-05-01T00:00:00+08:00"
            .parse::<DateTime<chrono::FixedOffset>>()
            .unwrap()
            .with_timezone(&Utc);
        for s in [
            "2026-05-01T00:00:00+08:00",
            "2026-05-01T00:00:00 08:00",
            "2026-04-30T16:00:00Z",
            "2026-04-30T16:00:00.000000Z",
            "2026-05-01T00:00:00+0800",
            "2026-05-01",
        ] {
            assert_eq!(date(s, midnight), Some(want), "{s}");
        }
        for s in ["2026-05-01T00:00:00", "yesterday", "2026-13-01", ""] {
            assert_eq!(date(s, midnight), None, "{s}");
        }
    }

    #[test]
    fn the_locale_parameter_wins_over_the_header() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_LANGUAGE, "en-US,en;q=0.9".parse().unwrap());
        assert_eq!(lang(&Params::default(), &h), Lang::En);
        assert_eq!(lang(&Params::parse_lossy(b"locale=zh-CN"), &h), Lang::Zh);
        h.insert(header::ACCEPT_LANGUAGE, "zh-CN,en;q=0.5".parse().unwrap());
        assert_eq!(lang(&Params::default(), &h), Lang::Zh);
        assert_eq!(lang(&Params::parse_lossy(b"locale=en"), &h), Lang::En);
    }
}
