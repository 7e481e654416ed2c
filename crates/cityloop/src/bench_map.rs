//! `cityloop bench map`: the maps on a large territory and many open cases. Loads the demo,
//! replaces its territory with an OSM road file (default the Phoenix AZ303 extract of
//! ../shared/data/geo/, inside a test rectangle district), fills the store with generated
//! cases spread over the roads' extent (3 of 10 open), and times through the real service:
//! the layer answer and the cluster answer per zoom level over random views, and reverse
//! geocoding per point. Prints p50/p99 per measurement.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::Utc;
use cityloop_domain::model::Actor;
use cityloop_geo::mapview::{degrees_per_pixel, MapLayer, ViewBox};
use cityloop_service::open311::{Lang, PublicReport};
use cityloop_service::Services;
use cityloop_store::Store;

/// Requests timed per zoom level.
const VIEWS: usize = 200;
/// Points reverse-geocoded.
const POINTS: usize = 2000;

/// A phone screen in pixels (the view each request asks for, with Leaflet's 20 % pad).
const SCREEN: (f64, f64) = (390.0 * 1.4, 844.0 * 1.4);

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1e3
}

/// A deterministic xorshift sequence in [0, 1).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % 1_000_000) as f64 / 1_000_000.0
    }
}

pub async fn run(
    sqlite: Option<PathBuf>,
    pg: Option<String>,
    open_cases: i64,
    roads: Option<PathBuf>,
) -> Result<()> {
    if open_cases <= 0 {
        bail!("--cases must be positive");
    }
    let roads = roads.unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/geo/phoenix_az303_osm_roads.geojson.gz")
    });
    let roads_text = cityloop_geo::layers::read_layer_file(&roads)
        .with_context(|| format!("--roads {}", roads.display()))?;
    let tmp = tempfile::tempdir()?;
    let path = sqlite.unwrap_or_else(|| tmp.path().join("map.db"));
    if path.exists() {
        bail!("{} exists; name a new file", path.display());
    }
    let s = cityloop_store::SqliteStore::open(&path, true).await?;
    let store: Arc<dyn Store> = Arc::new(s.clone());
    let (svc, bbox) = prepare(&store, &roads_text, open_cases).await?;
    let t = Instant::now();
    s.bench_fill_cases(
        &template(&svc).await?,
        open_cases * 10 / 3 + 1,
        Utc::now(),
        1,
        |_| {},
    )
    .await?;
    s.bench_spread_cases(bbox).await?;
    measure(&svc, bbox, t.elapsed()).await?;
    if let Some(url) = pg {
        let p = cityloop_store::PgStore::connect(&url).await?;
        let store: Arc<dyn Store> = Arc::new(p.clone());
        let (svc, bbox) = prepare(&store, &roads_text, open_cases).await?;
        let t = Instant::now();
        p.bench_fill_cases(
            &template(&svc).await?,
            open_cases * 10 / 3 + 1,
            Utc::now(),
            1,
            |_| {},
        )
        .await?;
        p.bench_spread_cases(bbox).await?;
        measure(&svc, bbox, t.elapsed()).await?;
    }
    Ok(())
}

/// Loads the demo, imports the road file as the territory and reloads the services.
async fn prepare(store: &Arc<dyn Store>, roads: &str, _open: i64) -> Result<(Services, [f64; 4])> {
    cityloop_service::demo::load_demo(store).await?;
    let segments = cityloop_geo::layers::parse_roads(roads)
        .map_err(|e| anyhow::anyhow!("{} problems in the road file", e.len()))?;
    let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    for s in &segments {
        for c in &s.geometry.0 {
            b = [b[0].min(c.x), b[1].min(c.y), b[2].max(c.x), b[3].max(c.y)];
        }
    }
    let pad = 0.001;
    let district = format!(
        r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"adcode":"999002","name":"bench district (test rectangle)","schematic":true}},"geometry":{{"type":"Polygon","coordinates":[[[{w},{s}],[{e},{s}],[{e},{n}],[{w},{n}],[{w},{s}]]]}}}}]}}"#,
        w = b[0] - pad,
        s = b[1] - pad,
        e = b[2] + pad,
        n = b[3] + pad
    );
    let empty = r#"{"type":"FeatureCollection","features":[]}"#.to_owned();
    let texts = [
        ("district", district),
        ("neighbours", empty.clone()),
        ("streets", empty.clone()),
        ("communities", empty.clone()),
        ("grids", empty),
        ("roads", roads.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let t = Instant::now();
    let terr = cityloop_service::territory::import(&**store, &texts)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let imported = t.elapsed();
    let t = Instant::now();
    let svc = Services::load(store.clone()).await?;
    println!(
        "\ncityloop bench map on {:?}: {} road segments (import {:.1} s; start-up with layer and geocoder indexes {:.1} s)",
        store.backend(),
        terr.segments().len(),
        imported.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
    Ok((svc, b))
}

/// One real report is the template of every generated case.
async fn template(svc: &Services) -> Result<cityloop_domain::case::Case> {
    let client = svc
        .check_api_key(Some(cityloop_service::demo::DEMO_API_KEY), Lang::En)
        .await?;
    let report = PublicReport {
        service_code: "06010".into(),
        lat: Some(33.68),
        long: Some(-112.35),
        description: Some("bench: broken pavement".into()),
        ..PublicReport::default()
    };
    let receipt = svc.report_public(&client, report, None, Lang::En).await?;
    Ok(svc
        .store
        .get_case_by_number(&receipt.service_request_id)
        .await?)
}

async fn measure(svc: &Services, b: [f64; 4], filled: Duration) -> Result<()> {
    let admin = svc
        .store
        .list_people()
        .await?
        .into_iter()
        .find(|p| p.username == "dispatcher")
        .context("demo dispatcher")?;
    let actor = Actor::staff(&admin);
    let total = svc
        .case_clusters(
            &actor,
            &ViewBox::new(b, 10).map_err(|e| anyhow::anyhow!("{e}"))?,
        )
        .await?
        .total;
    println!(
        "  {total} open cases in the extent (generated and spread in {:.0} s); {VIEWS} random phone-sized views per zoom",
        filled.as_secs_f64()
    );
    println!("  zoom | layers p50 / p99 ms (features, KiB) | clusters p50 / p99 ms (clusters)");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for zoom in [11u8, 12, 13, 14, 15, 16, 17] {
        let px = degrees_per_pixel(zoom);
        let (w, h) = (SCREEN.0 * px, SCREEN.1 * px);
        let mut lt = Vec::with_capacity(VIEWS);
        let mut ct = Vec::with_capacity(VIEWS);
        let (mut feats, mut bytes, mut cl) = (0usize, 0usize, 0usize);
        for _ in 0..VIEWS {
            let x = b[0] + rng.next() * (b[2] - b[0]);
            let y = b[1] + rng.next() * (b[3] - b[1]);
            let view = ViewBox::new(
                [x - w / 2.0, y - h / 2.0, x + w / 2.0, y + h / 2.0],
                i64::from(zoom),
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            let t = Instant::now();
            let a = svc.map_layers(&view, &MapLayer::ALL, true).await?;
            lt.push(t.elapsed());
            feats += a.body.matches("\"type\":\"Feature\"").count();
            bytes += a.body.len();
            let t = Instant::now();
            let c = svc.case_clusters(&actor, &view).await?;
            ct.push(t.elapsed());
            cl += c.clusters.len();
        }
        println!(
            "  {zoom:>4} | {:>6.2} / {:>6.2} ({:>5}, {:>5.0}) | {:>6.2} / {:>6.2} ({:>4})",
            pct(&mut lt, 0.5),
            pct(&mut lt, 0.99),
            feats / VIEWS,
            bytes as f64 / VIEWS as f64 / 1024.0,
            pct(&mut ct, 0.5),
            pct(&mut ct, 0.99),
            cl / VIEWS
        );
    }
    let mut rt = Vec::with_capacity(POINTS);
    let mut named = 0;
    for _ in 0..POINTS {
        let x = b[0] + rng.next() * (b[2] - b[0]);
        let y = b[1] + rng.next() * (b[3] - b[1]);
        let t = Instant::now();
        let r = svc.reverse_geocode(x, y);
        rt.push(t.elapsed());
        if r.road.is_some() {
            named += 1;
        }
    }
    println!(
        "  reverse geocoding: p50 {:.3} ms, p99 {:.3} ms per point ({named} of {POINTS} random points within 150 m of a named road)",
        pct(&mut rt, 0.5),
        pct(&mut rt, 0.99)
    );
    Ok(())
}
