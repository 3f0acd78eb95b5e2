//! Referrers reduced to what the reports show: an external hostname and path.

use url::Url;

/// The hostname without a leading `www.`, so `www.example.com` and
/// `example.com` compare equal.
pub(crate) fn bare_host(host: &str) -> &str {
    host.strip_prefix("www.").unwrap_or(host)
}

/// Reduces `referrer` to `hostname/path` (lower-case host without `www.`,
/// no query, no trailing slash), or `None` for direct traffic: no referrer,
/// one without a host, or one from the site itself — the page's hostname or
/// the site's domain, with or without `www.`, including subdomains of the
/// site's domain.
pub fn reduce_referrer(referrer: Option<&Url>, page_hostname: &str, site_domain: &str) -> Option<String> {
    let url = referrer?;
    let host = url.host_str()?.trim_end_matches('.').to_ascii_lowercase();
    let bare = bare_host(&host);
    let site = bare_host(site_domain);
    if host.is_empty() || bare == bare_host(page_hostname) || bare == site || bare.ends_with(&format!(".{site}")) {
        return None;
    }
    let path = url.path().trim_end_matches('/');
    Some(format!("{bare}{path}"))
}
