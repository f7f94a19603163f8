//! Static files and compression: hashed names cached forever, precompressed variants chosen by
//! `Accept-Encoding`, plain names revalidated, a stale manifest never trusted, pages and API
//! answers compressed.

use crate::helpers::{unique_prefix, TestApp, TestOptions};
use app::role::Role;
use std::io::Write;
use std::path::PathBuf;

/// The hashes the fixture site's names carry.
const JS: &str = "c0ffee0000000001";
const WASM: &str = "c0ffee0000000002";
const CSS: &str = "c0ffee0000000003";

/// A built site of its own, laid out as `cargo leptos build --release --precompress` with
/// `hash-files` lays one out (hashed names, `.br`/`.gz` variants, `hash.txt`); removed on drop.
struct Site {
    root: PathBuf,
}

impl Site {
    fn new(label: &str) -> Site {
        let root = std::env::temp_dir().join(unique_prefix(label));
        let pkg = root.join("pkg");
        std::fs::create_dir_all(&pkg).expect("site dir");
        let files: [(String, Vec<u8>); 3] = [
            (
                format!("monitor.{JS}.js"),
                "export function hydrate() { return 'monitor'; }\n"
                    .repeat(200)
                    .into_bytes(),
            ),
            (
                format!("monitor.{CSS}.css"),
                ".queue { color: var(--text); }\n".repeat(300).into_bytes(),
            ),
            (
                format!("monitor.{WASM}.wasm"),
                (0..60_000u32).map(|i| (i % 7) as u8).collect(),
            ),
        ];
        for (name, bytes) in &files {
            std::fs::write(pkg.join(name), bytes).expect("file");
            let mut brotli = Vec::new();
            brotli::BrotliCompress(&mut &bytes[..], &mut brotli, &Default::default())
                .expect("brotli");
            std::fs::write(pkg.join(format!("{name}.br")), brotli).expect("br");
            let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            gzip.write_all(bytes).expect("gzip");
            std::fs::write(pkg.join(format!("{name}.gz")), gzip.finish().expect("gz")).expect("gz");
        }
        std::fs::write(pkg.join(format!("monitor.{JS}.d.ts")), "export {};").expect("types");
        std::fs::write(
            root.join("hash.txt"),
            format!("js: {JS}\nwasm: {WASM}\ncss: {CSS}\n"),
        )
        .expect("hash file");
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

    /// The server on this site, with its hash file or (`hashed: false`) without one.
    async fn serve(&self, label: &str, hashed: bool) -> TestApp {
        let mut options = TestOptions::new(&unique_prefix(label));
        options.site_root = self.root.to_string_lossy().into_owned();
        options.hash_file = if hashed {
            self.root.join("hash.txt")
        } else {
            self.root.join("no-such-hash.txt")
        };
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
    let app = site.serve("assets", true).await;
    let name = format!("monitor.{WASM}.wasm");
    let original = std::fs::read(site.pkg(&name)).expect("wasm");
    let url = format!("/pkg/{name}");

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

    // What is not one of the site's files is not served.
    for missing in [
        "/pkg/monitor.wasm",
        "/pkg/monitor.0000000000000000.wasm",
        &format!("/pkg/{name}.br"),
        &format!("/pkg/monitor.{JS}.d.ts"),
        "/pkg/..%2Fhash.txt",
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
    let app = site.serve("assets-page", true).await;
    let page = get(&app, "/login", None).await;
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, "cache-control"), "no-cache");
    let html = page.text().await.expect("html");
    for linked in [
        format!("/pkg/monitor.{JS}.js"),
        format!("/pkg/monitor.{WASM}.wasm"),
        format!("/pkg/monitor.{CSS}.css"),
    ] {
        assert!(html.contains(&linked), "{linked} in {html}");
    }
}

#[tokio::test]
async fn without_a_hash_file_names_are_plain_and_revalidated() {
    let site = Site::new("assets-plain");
    std::fs::write(site.pkg("monitor.css"), ".plain { }\n").expect("css");
    let app = site.serve("assets-plain", false).await;
    let html = get(&app, "/login", None).await.text().await.expect("html");
    assert!(html.contains("/pkg/monitor.css"), "{html}");
    assert!(!html.contains(CSS), "{html}");
    let css = get(&app, "/pkg/monitor.css", None).await;
    assert_eq!(css.status(), 200);
    assert_eq!(header(&css, "cache-control"), "no-cache");
    assert_eq!(css.text().await.expect("css"), ".plain { }\n");
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
