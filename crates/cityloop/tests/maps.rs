//! The maps' API over the real server binary, on every store: a territory imported with
//! `cityloop territory import` (Boston's Back Bay OSM roads, ../shared/data/geo/) is what the
//! layer API draws and what address search and reverse geocoding answer from; bad views are
//! 422 naming the field; clusters count every open case; the tile-source setting's rules and
//! the page policy that follows it.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{Server, TestDb, BIN};
use serde_json::{json, Value};

fn shared_geo(name: &str) -> PathBuf {
    let dir = match std::env::var_os("CITYLOOP_SHARED") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    let p = dir.join("data/geo").join(name);
    assert!(p.is_file(), "missing test data {}", p.display());
    p
}

/// A test district around the Back Bay extract (a rectangle, labelled schematic: Boston
/// has no GB/T 2260 code; `999001` is a test code) and no streets, communities or grids.
const BOSTON_DISTRICT: &str = r#"{"type":"FeatureCollection","features":[{"type":"Feature",
 "properties":{"adcode":"999001","name":"Back Bay (test)","schematic":true},
 "geometry":{"type":"Polygon","coordinates":[[[-71.095,42.335],[-71.040,42.335],[-71.040,42.375],[-71.095,42.375],[-71.095,42.335]]]}}]}"#;
const EMPTY: &str = r#"{"type":"FeatureCollection","features":[]}"#;

/// Loads the demo into `url`, then replaces its territory with Boston's roads.
fn boston_server(url: &str) -> Server {
    drop(Server::spawn("demo", url));
    let dir = tempfile::tempdir().unwrap();
    let write = |n: &str, text: &str| {
        let p = dir.path().join(n);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let district = write("district.geojson", BOSTON_DISTRICT);
    let empty = write("empty.geojson", EMPTY);
    let roads = shared_geo("boston_backbay_osm_roads.geojson")
        .display()
        .to_string();
    let out = Command::new(BIN)
        .args([
            "territory",
            "import",
            "--db",
            url,
            "--district",
            &district,
            "--neighbours",
            &empty,
            "--streets",
            &empty,
            "--communities",
            &empty,
            "--grids",
            &empty,
            "--roads",
            &roads,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Server::spawn("serve", url)
}

async fn get(s: &Server, path: &str) -> (u16, Value) {
    let r = s.http.get(s.url(path)).send().await.unwrap();
    let st = r.status().as_u16();
    (st, r.json().await.unwrap_or(Value::Null))
}

fn names(fc: &Value) -> Vec<String> {
    fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["properties"]["layer"] == "roads")
        .filter_map(|f| f["properties"]["name"].as_str().map(str::to_owned))
        .collect()
}

async fn boston_roads_are_drawn_searched_and_named(s: &Server) {
    // The layer API draws the imported roads, not the demo district.
    let (st, fc) = get(
        s,
        "/api/v1/map/layers?bbox=-71.075,42.347,-71.060,42.356&zoom=16",
    )
    .await;
    assert_eq!(st, 200, "{fc}");
    let roads = names(&fc);
    for n in ["Boylston Street", "Arlington Street", "Tremont Street"] {
        assert!(roads.iter().any(|r| r == n), "{n} missing from {roads:?}");
    }
    let district: Vec<_> = fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["properties"]["layer"] == "district")
        .collect();
    assert_eq!(district.len(), 1);
    assert_eq!(district[0]["properties"]["name"], "Back Bay (test)");
    assert!(!fc.to_string().contains("二七区"), "no demo geometry");

    // The configuration knows the territory's extent and that it has no tile source.
    let (_, cfg) = get(s, "/api/v1/map/config").await;
    assert_eq!(cfg["tiles"], Value::Null);
    assert!(
        (cfg["extent"][0].as_f64().unwrap() + 71.095).abs() < 1e-9,
        "{cfg}"
    );

    // Far out, roads are left out; below zoom 16 the lines are simplified (never longer).
    let (_, far) = get(s, "/api/v1/map/layers?bbox=-71.2,42.2,-70.9,42.5&zoom=10").await;
    assert!(names(&far).is_empty(), "no roads at zoom 10");
    let (_, z12) = get(
        s,
        "/api/v1/map/layers?bbox=-71.095,42.335,-71.040,42.375&zoom=12&layers=roads",
    )
    .await;
    let (_, z16) = get(
        s,
        "/api/v1/map/layers?bbox=-71.075,42.340,-71.055,42.360&zoom=16&layers=roads",
    )
    .await;
    let vertices = |fc: &Value, id: &str| {
        fc["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["properties"]["id"] == id)
            .map(|f| f["geometry"]["coordinates"].as_array().unwrap().len())
    };
    let id = z16["features"][0]["properties"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    if let (Some(a), Some(b)) = (vertices(&z12, &id), vertices(&z16, &id)) {
        assert!(a <= b, "{id}: {a} vertices at zoom 12, {b} at 16");
    }

    // Entity tags: the same view again is a 304.
    let r = s
        .http
        .get(s.url("/api/v1/map/layers?bbox=-71.075,42.347,-71.060,42.356&zoom=16"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/geo+json"
    );
    let tag = r.headers()["etag"].to_str().unwrap().to_owned();
    let again = s
        .http
        .get(s.url("/api/v1/map/layers?bbox=-71.075,42.347,-71.060,42.356&zoom=16"))
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    // Reverse: a point on Boylston Street beside the Common, between Arlington Street and
    // Hadassah Way (Park Square), both of which cross it in the extract.
    let (st, rev) = get(s, "/api/v1/map/reverse?lat=42.35204&lon=-71.06992").await;
    assert_eq!(st, 200, "{rev}");
    assert_eq!(rev["road"]["road"], "Boylston Street", "{rev}");
    let mut ends = [
        rev["road"]["from"].as_str().unwrap_or("").to_owned(),
        rev["road"]["to"].as_str().unwrap_or("").to_owned(),
    ];
    ends.sort();
    assert_eq!(ends, ["Arlington Street", "Hadassah Way"], "{rev}");
    assert!(rev["road"]["distance_m"].as_f64().unwrap() < 20.0, "{rev}");
    assert!(
        rev["label"].as_str().unwrap().contains("Boylston Street（"),
        "{rev}"
    );

    // Intersection search finds where two real streets cross, in every spelling.
    for q in [
        "Boylston Street & Tremont Street",
        "boylston st/tremont",
        "Tremont Street and Boylston Street",
    ] {
        let (st, hits) = get(s, &format!("/api/v1/map/search?q={}", urlencode(q))).await;
        assert_eq!(st, 200, "{q}: {hits}");
        let h = &hits[0];
        assert_eq!(h["kind"], "intersection", "{q}: {hits}");
        let (lon, lat) = (h["lon"].as_f64().unwrap(), h["lat"].as_f64().unwrap());
        // The shared OSM node of the two ways.
        assert!(
            (lon + 71.0645537).abs() < 3e-4 && (lat - 42.3523804).abs() < 3e-4,
            "{q}: {h}"
        );
    }
    // A road by part of its name.
    let (_, hits) = get(s, "/api/v1/map/search?q=dartmouth").await;
    assert_eq!(hits[0]["label"], "Dartmouth Street", "{hits}");
    assert_eq!(hits[0]["kind"], "road");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_territory_is_what_the_maps_draw_search_and_name() {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let s = boston_server(&db.url);
        boston_roads_are_drawn_searched_and_named(&s).await;
    }
}

async fn field_of(s: &Server, path: &str) -> (u16, String) {
    let (st, body) = get(s, path).await;
    (st, body["error"]["field"].as_str().unwrap_or("").to_owned())
}

/// Bad views, searches and tile sources are 422 naming the field; clusters sum to the open
/// cases; a tile source's host is the only outside origin the pages' policy allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_map_input_is_named_and_tile_sources_follow_their_rules() {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let s = Server::spawn("demo", &db.url);
        for (path, field) in [
            (
                "/api/v1/map/layers?bbox=113.7,34.6,113.6,34.8&zoom=12",
                "bbox",
            ),
            (
                "/api/v1/map/layers?bbox=113.6,34.8,113.7,34.6&zoom=12",
                "bbox",
            ),
            ("/api/v1/map/layers?bbox=190,34.6,191,34.8&zoom=12", "bbox"),
            ("/api/v1/map/layers?bbox=113.6,34.6,113.7&zoom=12", "bbox"),
            ("/api/v1/map/layers?bbox=110,30,118,38&zoom=14", "bbox"),
            (
                "/api/v1/map/layers?bbox=113.6,34.6,113.7,34.8&zoom=23",
                "zoom",
            ),
            (
                "/api/v1/map/layers?bbox=113.6,34.6,113.7,34.8&zoom=x",
                "zoom",
            ),
            ("/api/v1/map/layers?bbox=113.6,34.6,113.7,34.8", "zoom"),
            (
                "/api/v1/map/layers?bbox=113.6,34.6,113.7,34.8&zoom=12&layers=roads,rivers",
                "layers",
            ),
            ("/api/v1/map/reverse?lat=95&lon=113.6", "lat"),
            ("/api/v1/map/reverse?lat=34.7&lon=113.6&coord=utm", "coord"),
            ("/api/v1/map/search?q=", "q"),
            ("/api/v1/map/search?q=%E8%B7%AF&limit=0", "limit"),
        ] {
            let (st, f) = field_of(&s, path).await;
            assert_eq!((st, f.as_str()), (422, field), "{path}");
        }
        let long = "路".repeat(65);
        let (st, f) = field_of(&s, &format!("/api/v1/map/search?q={}", urlencode(&long))).await;
        assert_eq!((st, f.as_str()), (422, "q"));

        // The demo district: Chinese reverse label, and an intersection of its roads.
        let (_, rev) = get(&s, "/api/v1/map/reverse?lat=34.7503&lon=113.6615").await;
        assert!(
            rev["label"].as_str().unwrap().starts_with("二七区 · "),
            "{rev}"
        );

        // Clusters: staff only; the counts sum to the open cases in the box.
        let (st, _) = field_of(
            &s,
            "/api/v1/map/clusters?bbox=113.5,34.6,113.7,34.8&zoom=12",
        )
        .await;
        assert_eq!(st, 401);
        let tok = s.login("dispatcher").await;
        let (st, c) = s
            .get(
                &tok,
                "/api/v1/map/clusters?bbox=113.45,34.55,113.75,34.80&zoom=11",
            )
            .await;
        assert_eq!(st, 200, "{c}");
        let sum: u64 = c["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["count"].as_u64().unwrap())
            .sum();
        assert_eq!(sum, c["total"].as_u64().unwrap());

        // Tile sources: https, or http on a confirmed LAN address; 422 otherwise.
        let admin = s.login("admin").await;
        let put = |body: Value| {
            let s = &s;
            let admin = admin.clone();
            async move {
                let r = s
                    .http
                    .put(s.url("/api/v1/admin/map/tiles"))
                    .bearer_auth(&admin)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let st = r.status().as_u16();
                (st, r.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        let src = |url: &str, lan: bool| json!({"tiles": {"url": url, "attribution": "测试底图", "max_zoom": 18, "coord": "gcj02", "allow_http_lan": lan}});
        let (st, e) = put(src("http://tiles.example.com/{z}/{x}/{y}.png", false)).await;
        assert_eq!(
            (st, e["error"]["field"].as_str()),
            (422, Some("url")),
            "{e}"
        );
        let (st, e) = put(src("http://192.168.1.20/{z}/{x}/{y}.png", false)).await;
        assert_eq!(
            (st, e["error"]["field"].as_str()),
            (422, Some("allow_http_lan")),
            "{e}"
        );
        let (st, e) = put(src("http://192.168.1.20/{z}/{x}/{y}.png", true)).await;
        assert_eq!(st, 200, "{e}");
        let (st, e) = put(src("https://tiles.example.com/{z}/{x}/{y}.png", false)).await;
        assert_eq!(st, 200, "{e}");
        assert_eq!(e["tiles"]["coord"], "gcj02");
        let page = s.http.get(s.url("/")).send().await.unwrap();
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("img-src 'self' data: blob: https://tiles.example.com;"),
            "{csp}"
        );
        assert!(
            !csp.contains("192.168.1.20"),
            "the old source is gone: {csp}"
        );
        let (st, _) = put(json!({"tiles": null})).await;
        assert_eq!(st, 200);
        let page = s.http.get(s.url("/staff")).send().await.unwrap();
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(!csp.contains("example.com"), "{csp}");
        let dispatcher_put = s
            .http
            .put(s.url("/api/v1/admin/map/tiles"))
            .bearer_auth(&tok)
            .json(&json!({"tiles": null}))
            .send()
            .await
            .unwrap();
        assert_eq!(dispatcher_put.status(), 403);
    }
}
