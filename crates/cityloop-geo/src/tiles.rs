//! A district's tile source (底图): an XYZ URL template (a WMTS service in KVP form works
//! the same way: `…&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}`), its key, attribution, zoom
//! limit and — decisive for where a pin lands — the coordinate system its tiles are drawn
//! in. WGS84 and CGCS2000 (天地图) need no shift; GCJ-02 tiles (Amap, Tencent) make the
//! maps shift every overlay into GCJ-02 and every click back.
//!
//! [`TileSource::validate`] is the whole rule set: `https://` only, or `http://` on a
//! private LAN address (10/8, 172.16/12, 192.168/16, IPv4 literal) when the admin confirms
//! it (`allow_http_lan`); the template names `{z}`, `{x}` and `{y}`; the host is a plain DNS
//! name or address (an optional `{s}` stands for one of `subdomains`), so the page's
//! Content-Security-Policy can allow exactly [`TileSource::origins`]. Pure; no I/O.

use serde::{Deserialize, Serialize};

/// Longest URL template.
pub const MAX_URL_CHARS: usize = 500;
/// Longest key.
pub const MAX_KEY_CHARS: usize = 128;
/// Longest attribution text.
pub const MAX_ATTRIBUTION_CHARS: usize = 200;
/// Most subdomains.
pub const MAX_SUBDOMAINS: usize = 8;

/// The coordinate system tiles are drawn in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TileCoord {
    /// GPS coordinates (OSM-style tiles).
    Wgs84,
    /// China Geodetic Coordinate System 2000 (天地图); within centimetres of WGS84.
    Cgcs2000,
    /// The offset system of Amap/Gaode and Tencent tiles.
    Gcj02,
}

/// A configured tile source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TileSource {
    /// URL template with `{z}`, `{x}`, `{y}`; optional `{s}` (subdomain) and `{key}`.
    pub url: String,
    /// The key substituted for `{key}` (天地图's `tk`); sent to browsers with the template.
    #[serde(default)]
    pub key: Option<String>,
    /// Characters `{s}` stands for, e.g. `01234567`.
    #[serde(default)]
    pub subdomains: Option<String>,
    /// Attribution shown on the map (plain text).
    pub attribution: String,
    /// Highest zoom the source serves, 1–22.
    pub max_zoom: u8,
    /// The tiles' coordinate system.
    pub coord: TileCoord,
    /// The admin confirms an `http://` source on a private LAN address.
    #[serde(default)]
    pub allow_http_lan: bool,
}

/// A refused setting: the field and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct TileSourceError {
    /// The offending field.
    pub field: &'static str,
    /// What is wrong.
    pub problem: String,
}

fn err(field: &'static str, problem: impl Into<String>) -> TileSourceError {
    TileSourceError {
        field,
        problem: problem.into(),
    }
}

/// Whether an IPv4 literal is a private LAN address (RFC 1918).
fn private_lan(host: &str) -> bool {
    host.parse::<std::net::Ipv4Addr>()
        .is_ok_and(|ip| ip.is_private())
}

struct Parts<'a> {
    scheme: &'a str,
    host: &'a str,
    port: Option<&'a str>,
}

fn split(url: &str) -> Option<Parts<'_>> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?']).next()?;
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    Some(Parts { scheme, host, port })
}

impl TileSource {
    /// Checks every rule of the module documentation.
    pub fn validate(&self) -> Result<(), TileSourceError> {
        let url = self.url.trim();
        if url.chars().count() > MAX_URL_CHARS {
            return Err(err("url", format!("at most {MAX_URL_CHARS} characters")));
        }
        if let Some(c) = url
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "-._~:/?&=%{}".contains(*c)))
        {
            return Err(err(
                "url",
                format!("character {c:?} is not allowed in a tile URL"),
            ));
        }
        for p in ["{z}", "{x}", "{y}"] {
            if !url.contains(p) {
                return Err(err("url", format!("the template must contain {p}")));
            }
        }
        let parts = split(url).ok_or_else(|| err("url", "expected https://host/…"))?;
        let host_ok = !parts.host.is_empty()
            && parts
                .host
                .replace("{s}", "a")
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !host_ok || parts.host.starts_with('.') || parts.host.ends_with('.') {
            return Err(err(
                "url",
                format!("{:?} is not a host name or address", parts.host),
            ));
        }
        if let Some(p) = parts.port {
            if p.parse::<u16>().is_err() {
                return Err(err("url", format!("{p:?} is not a port")));
            }
        }
        match parts.scheme {
            "https" => {}
            "http" if private_lan(parts.host) => {
                if !self.allow_http_lan {
                    return Err(err(
                        "allow_http_lan",
                        "an http:// source on a LAN address needs allow_http_lan: true",
                    ));
                }
            }
            "http" => {
                return Err(err(
                    "url",
                    "must be https:// (http:// only on a private LAN address, 10/8, 172.16/12 or 192.168/16)",
                ))
            }
            other => return Err(err("url", format!("scheme {other:?}: must be https"))),
        }
        if parts.host.contains("{s}") {
            let subs = self.subdomains.as_deref().unwrap_or("");
            if subs.is_empty() {
                return Err(err(
                    "subdomains",
                    "the URL names {s}: list the subdomains, e.g. abc",
                ));
            }
        }
        if let Some(s) = &self.subdomains {
            if s.chars().count() > MAX_SUBDOMAINS || !s.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(err(
                    "subdomains",
                    format!("up to {MAX_SUBDOMAINS} letters or digits, one per subdomain"),
                ));
            }
        }
        if let Some(k) = &self.key {
            if k.chars().count() > MAX_KEY_CHARS
                || !k
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(err(
                    "key",
                    format!("up to {MAX_KEY_CHARS} letters, digits, - or _"),
                ));
            }
        }
        if url.contains("{key}") && self.key.as_deref().unwrap_or("").is_empty() {
            return Err(err("key", "the URL names {key}: give the key"));
        }
        if self.attribution.trim().is_empty() {
            return Err(err("attribution", "is required (the tiles' owner)"));
        }
        if self.attribution.chars().count() > MAX_ATTRIBUTION_CHARS {
            return Err(err(
                "attribution",
                format!("at most {MAX_ATTRIBUTION_CHARS} characters"),
            ));
        }
        if !(1..=22).contains(&self.max_zoom) {
            return Err(err("max_zoom", "must be from 1 to 22"));
        }
        Ok(())
    }

    /// The origins the page must be allowed to load images from (`scheme://host[:port]`),
    /// one per subdomain.
    pub fn origins(&self) -> Vec<String> {
        let Some(p) = split(self.url.trim()) else {
            return Vec::new();
        };
        let port = p.port.map(|x| format!(":{x}")).unwrap_or_default();
        let hosts: Vec<String> = if p.host.contains("{s}") {
            self.subdomains
                .as_deref()
                .unwrap_or("")
                .chars()
                .map(|c| p.host.replace("{s}", &c.to_string()))
                .collect()
        } else {
            vec![p.host.to_owned()]
        };
        hosts
            .into_iter()
            .map(|h| format!("{}://{h}{port}", p.scheme))
            .collect()
    }

    /// True when overlays and clicks must be shifted (GCJ-02 tiles).
    pub fn shifted(&self) -> bool {
        self.coord == TileCoord::Gcj02
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(url: &str) -> TileSource {
        TileSource {
            url: url.into(),
            key: None,
            subdomains: None,
            attribution: "© 测试".into(),
            max_zoom: 18,
            coord: TileCoord::Wgs84,
            allow_http_lan: false,
        }
    }

    #[test]
    fn https_is_accepted_and_names_its_origins() {
        let mut s = src("https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}");
        s.subdomains = Some("01".into());
        s.key = Some("abc123".into());
        s.validate().unwrap();
        assert_eq!(
            s.origins(),
            ["https://t0.tianditu.gov.cn", "https://t1.tianditu.gov.cn"]
        );
    }

    #[test]
    fn http_only_on_a_confirmed_lan_address() {
        let e = src("http://tiles.example.com/{z}/{x}/{y}.png")
            .validate()
            .unwrap_err();
        assert_eq!(e.field, "url");
        let mut lan = src("http://192.168.10.5:8080/{z}/{x}/{y}.png");
        assert_eq!(lan.validate().unwrap_err().field, "allow_http_lan");
        lan.allow_http_lan = true;
        lan.validate().unwrap();
        assert_eq!(lan.origins(), ["http://192.168.10.5:8080"]);
        let mut public = src("http://8.8.8.8/{z}/{x}/{y}.png");
        public.allow_http_lan = true;
        assert_eq!(public.validate().unwrap_err().field, "url");
    }

    #[test]
    fn templates_that_could_escape_the_policy_are_refused() {
        for bad in [
            "https://a.com/{z}/{x}.png",
            "https://a.com; script-src *//{z}/{x}/{y}",
            "https://a.com/{z}/{x}/{y}' ",
            "https://user@a.com/{z}/{x}/{y}",
            "ftp://a.com/{z}/{x}/{y}",
            "https://{s}.a.com/{z}/{x}/{y}",
        ] {
            let e = src(bad).validate().unwrap_err();
            assert!(e.field == "url" || e.field == "subdomains", "{bad}: {e}");
        }
        let mut z = src("https://a.com/{z}/{x}/{y}");
        z.max_zoom = 0;
        assert_eq!(z.validate().unwrap_err().field, "max_zoom");
    }
}
