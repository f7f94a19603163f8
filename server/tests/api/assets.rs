//! Static files and compression: hashed names cached forever, precompressed variants chosen by
//! `Accept-Encoding`, plain names revalidated, a stale manifest never trusted, pages and API
//! answers compressed.

use crate::helpers::{unique_prefix, TestApp, TestOptions};
use app::role::Role;
use server::assets::{hashed_name, precompress, Manifest, MANIFEST};
use std::path::PathBuf;

/// A built site of its own (small but compressible files), removed on drop.
struct Site {
    root: PathBuf,
}

impl Site {
    fn new(label: &str) -> Site {
        let root = std::env::temp_dir().join(unique_prefix(label));
        let pkg = root.join("pkg");
        std::fs::create_dir_all(&pkg).expect("site dir");
        let js = "export function hydrate() { return 'monitor'; }\n".repeat(200);
        let css = ".queue { color: var(--text); }\n".repeat(300);
        let wasm: Vec<u8> = (0..60_000u32).map(|i| (i % 7) as u8).collect();
        std::fs::write(pkg.join("monitor.js"), js).expect("js");
        std::fs::write(pkg.join("monitor.css"), css).expect("css");
        std::fs::write(pkg.join("monitor.wasm"), wasm).expect("wasm");
        std::fs::write(pkg.join("monitor.d.ts"), "export {};").expect("types");
        std::fs::write(
            root.join("favicon.svg"),
            "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
        )
        .expect("icon");
        Site { root }
    }

    fn pkg(&self, name: &str) -> PathBuf {
        self.root.join("pkg").join(name)
    }

    fn manifest(&self) -> Manifest {
        serde_json::from_str(&std::fs::read_to_string(self.pkg(MANIFEST)).expect("manifest"))
            .expect("manifest JSON")
    }

    fn hashed(&self, name: &str) -> String {
        hashed_name(name, &self.manifest().files[name].hash)
    }

    async fn serve(&self, label: &str) -> TestApp {
        let mut options = TestOptions::new(&unique_prefix(label));
        options.site_root = self.root.to_string_lossy().into_owned();
        TestApp::spawn_with(options).await
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

async fn get(app: &TestApp, path: &str, encoding: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(app.url(path));
    if let Some(encoding) = encoding {
        request = request.header("accept-encoding", encoding);
    }
    request.send().await.expect("request")
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::BrotliDecompress(&mut &bytes[..], &mut out).expect("brotli");
    out
}

fn ungzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("gzip");
    out
}

#[tokio::test]
async fn hashed_files_are_immutable_and_sent_as_the_client_accepts() {
    let site = Site::new("assets");
    let report = precompress(&site.root).expect("precompress");
    let names: Vec<&str> = report.iter().map(|(name, ..)| name.as_str()).collect();
    assert_eq!(names, ["monitor.css", "monitor.js", "monitor.wasm"]);
    for (name, bytes, brotli, gzip) in &report {
        assert!(brotli < bytes && gzip < bytes, "{name} compressed");
    }
    let app = site.serve("assets").await;
    let original = std::fs::read(site.pkg("monitor.wasm")).expect("wasm");
    let url = format!("/pkg/{}", site.hashed("monitor.wasm"));

    let br = get(&app, &url, Some("gzip, deflate, br")).await;
    assert_eq!(br.status(), 200);
    assert_eq!(header(&br, "content-encoding"), "br");
    assert_eq!(
        header(&br, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert!(header(&br, "vary").contains("accept-encoding"));
    assert_eq!(header(&br, "content-type"), "application/wasm");
    assert_eq!(unbrotli(&br.bytes().await.expect("body")), original);

    let gz = get(&app, &url, Some("gzip")).await;
    assert_eq!(header(&gz, "content-encoding"), "gzip");
    assert_eq!(ungzip(&gz.bytes().await.expect("body")), original);

    let plain = get(&app, &url, None).await;
    assert_eq!(header(&plain, "content-encoding"), "");
    assert_eq!(plain.bytes().await.expect("body").to_vec(), original);

    // The plain name still works, revalidated each time, never precompressed.
    let by_name = get(&app, "/pkg/monitor.wasm", Some("br")).await;
    assert_eq!(by_name.status(), 200);
    assert_eq!(header(&by_name, "cache-control"), "no-cache");
    assert_eq!(header(&by_name, "content-encoding"), "");
    // What is not a site file is not served.
    for missing in [
        "/pkg/monitor.0000000000000000.wasm",
        "/pkg/assets.json",
        "/pkg/hash.txt",
        "/pkg/monitor.wasm.br",
        "/pkg/monitor.d.ts",
        "/pkg/..%2Fpkg%2Fmonitor.js",
    ] {
        assert_eq!(get(&app, missing, None).await.status(), 404, "{missing}");
    }
    // The icon is cached for a week.
    let icon = get(&app, "/favicon.svg", None).await;
    assert_eq!(icon.status(), 200);
    assert_eq!(header(&icon, "cache-control"), "public, max-age=604800");
}

#[tokio::test]
async fn pages_link_the_hashed_names_and_are_revalidated() {
    let site = Site::new("assets-page");
    precompress(&site.root).expect("precompress");
    let app = site.serve("assets-page").await;
    let page = get(&app, "/login", None).await;
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, "cache-control"), "no-cache");
    let html = page.text().await.expect("html");
    for name in ["monitor.css", "monitor.js", "monitor.wasm"] {
        let linked = format!("/pkg/{}", site.hashed(name));
        assert!(html.contains(&linked), "{linked} in {html}");
    }
}

#[tokio::test]
async fn a_manifest_older_than_the_files_is_not_trusted() {
    let site = Site::new("assets-stale");
    precompress(&site.root).expect("precompress");
    let stale = site.hashed("monitor.css");
    // Rebuilt without `server precompress`: the CSS changed after the manifest was written.
    std::fs::write(site.pkg("monitor.css"), ".rebuilt { }\n").expect("rebuild");
    let app = site.serve("assets-stale").await;
    let html = get(&app, "/login", None).await.text().await.expect("html");
    assert!(html.contains("/pkg/monitor.css"), "{html}");
    assert!(!html.contains(&stale), "{html}");
    assert_eq!(
        get(&app, &format!("/pkg/{stale}"), None).await.status(),
        404
    );
    let css = get(&app, "/pkg/monitor.css", Some("br")).await;
    assert_eq!(header(&css, "cache-control"), "no-cache");
    assert_eq!(css.text().await.expect("css"), ".rebuilt { }\n");
}

#[tokio::test]
async fn precompressing_a_site_that_was_not_built_says_so() {
    let missing = std::env::temp_dir().join(unique_prefix("no-site"));
    let error = precompress(&missing).expect_err("no site");
    assert!(error.contains("build the site first"), "{error}");
}

#[tokio::test]
async fn api_answers_are_compressed_when_accepted() {
    let app = TestApp::spawn("compress").await;
    let _world = app
        .world(serde_json::json!([{"name": "mailer", "completed": 2, "waiting": 1}]))
        .await;
    let token = app.token(Role::Moderator);
    let metrics = app
        .client
        .get(app.url("/api/v1/admin/jobs/metrics"))
        .bearer_auth(&token)
        .header("accept-encoding", "br")
        .send()
        .await
        .expect("metrics");
    assert_eq!(metrics.status(), 200);
    assert_eq!(header(&metrics, "content-encoding"), "br");
    assert_eq!(header(&metrics, "cache-control"), "no-cache");
    let body: serde_json::Value =
        serde_json::from_slice(&unbrotli(&metrics.bytes().await.expect("body"))).expect("JSON");
    assert_eq!(body["queues"][0]["queueName"], "mailer");

    let identity = app
        .client
        .get(app.url("/api/v1/admin/jobs/metrics"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("metrics");
    assert_eq!(header(&identity, "content-encoding"), "");
    assert!(identity.json::<serde_json::Value>().await.is_ok());
}
