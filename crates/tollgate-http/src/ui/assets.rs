//! Static assets compiled into the binary: htmx (vendored, 0BSD licence in `assets/`) and the
//! stylesheet. Each is served under a name that carries a hash of its content, so browsers may
//! cache it for a year: a new build with other content has another URL.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One asset: its content and the URL path it is served under.
pub(crate) struct Asset {
    pub url: String,
    file: String,
    content_type: &'static str,
    bytes: &'static [u8],
}

impl Asset {
    fn new(stem: &str, extension: &str, content_type: &'static str, bytes: &'static [u8]) -> Asset {
        let hash = hex::encode(&Sha256::digest(bytes)[..8]);
        let file = format!("{stem}-{hash}.{extension}");
        Asset { url: format!("/assets/{file}"), file, content_type, bytes }
    }
}

pub(crate) static HTMX: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new("htmx", "js", "text/javascript; charset=utf-8", include_bytes!("../../assets/htmx-2.0.11.min.js"))
});

pub(crate) static STYLESHEET: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new("tollgate", "css", "text/css; charset=utf-8", include_bytes!("../../assets/tollgate.css"))
});

/// `GET /assets/{file}`: public, like `/healthz`; they hold nothing secret.
pub(crate) async fn serve(Path(file): Path<String>) -> Response {
    let asset = [&*HTMX, &*STYLESHEET].into_iter().find(|asset| asset.file == file);
    match asset {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
                (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
            ],
            asset.bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
