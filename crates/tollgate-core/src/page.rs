//! Paging of long lists: up to `limit` items past a cursor (the id of the last item seen).

/// Which slice of a long list to read: up to `limit` items past the `cursor` (an id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub cursor: Option<i64>,
    pub limit: i64,
}

impl Page {
    /// The most items one page holds; larger limits are read as this.
    pub const MAX_LIMIT: i64 = 500;

    pub fn first(limit: i64) -> Page {
        Page { cursor: None, limit }
    }

    /// The limit, clamped to 1 ..= `MAX_LIMIT`.
    pub fn bounded_limit(self) -> i64 {
        self.limit.clamp(1, Page::MAX_LIMIT)
    }
}
