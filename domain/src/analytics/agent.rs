//! What the User-Agent tells: bot or not, browser, OS and device class.
//!
//! Classification uses maintained crates: `isbot` (a curated list of crawler,
//! headless-browser and HTTP-library patterns) and `woothee` (browser / OS /
//! category). Only their coarse results are recorded, never the UA itself.

use std::sync::LazyLock;

static BOTS: LazyLock<isbot::Bots> = LazyLock::new(isbot::Bots::default);
static PARSER: LazyLock<woothee::parser::Parser> = LazyLock::new(woothee::parser::Parser::new);

/// Whether `user_agent` belongs to a bot, crawler, headless browser or HTTP
/// library. An empty User-Agent is not taken as a bot: backfilled logs and
/// server-side trackers may simply not have one.
pub fn is_bot(user_agent: &str) -> bool {
    UserAgentInfo::parse(user_agent).bot
}

/// Browser, OS and device class of a visitor; empty strings when unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Agent {
    /// Browser family, e.g. `Firefox`.
    pub browser: String,
    /// Browser `major.minor`, e.g. `128.0`.
    pub browser_version: String,
    /// OS family, e.g. `Android`, `macOS`.
    pub os: String,
    /// OS version, e.g. `14`.
    pub os_version: String,
    /// `desktop`, `mobile` or `tablet`.
    pub device: String,
}

/// Below this screen width (CSS px) an otherwise unclassified device is a
/// phone; below [`TABLET_MAX_WIDTH`] a tablet (Plausible's breakpoints).
const MOBILE_MAX_WIDTH: u32 = 576;
const TABLET_MAX_WIDTH: u32 = 992;

fn known(s: &str) -> &str {
    if s == "UNKNOWN" { "" } else { s }
}

fn major_minor(version: &str) -> String {
    let mut parts = known(version).split('.').filter(|p| !p.is_empty());
    match (parts.next(), parts.next()) {
        (Some(major), Some(minor)) => format!("{major}.{minor}"),
        (Some(major), None) => format!("{major}.0"),
        _ => String::new(),
    }
}

/// Woothee names versions of Windows as separate OSes ("Windows 10") and
/// iOS devices by model; reports group them by family.
fn os_family(os: &str, os_version: &str) -> (String, String) {
    let os = known(os);
    let version = known(os_version).to_owned();
    match os {
        "" => (String::new(), String::new()),
        "iPhone" | "iPad" | "iPod" | "iOS" => ("iOS".into(), version.replace('_', ".")),
        "Mac OSX" => ("macOS".into(), version.replace('_', ".")),
        "Windows UNKNOWN Ver" => ("Windows".into(), String::new()),
        w if w.starts_with("Windows ") && !w.starts_with("Windows Phone") && w != "Windows CE" => {
            ("Windows".into(), w["Windows ".len()..].to_owned())
        }
        "Linux" => ("GNU/Linux".into(), version),
        other => (other.to_owned(), version),
    }
}

fn device_of(category: &str, os: &str, user_agent: &str, screen_width: u32) -> &'static str {
    match category {
        "pc" => "desktop",
        "smartphone" if os == "iPad" => "tablet",
        // Android tablets leave out the `Mobile` token (Google's guidance).
        "smartphone" if os == "Android" && !user_agent.contains("Mobile") => "tablet",
        "smartphone" | "mobilephone" => "mobile",
        _ => match screen_width {
            0 => "",
            w if w < MOBILE_MAX_WIDTH => "mobile",
            w if w < TABLET_MAX_WIDTH => "tablet",
            _ => "desktop",
        },
    }
}

/// Everything one User-Agent says, independent of the event: computed once
/// per distinct UA (callers may cache it; real traffic repeats a few thousand
/// UAs), then turned into an [`Agent`] with the event's screen width.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserAgentInfo {
    /// A bot, crawler, headless browser or HTTP library.
    pub bot: bool,
    browser: String,
    browser_version: String,
    os: String,
    os_version: String,
    /// The device class the UA decides, or `None` when only the screen width can.
    device: Option<&'static str>,
}

impl UserAgentInfo {
    /// Parses `user_agent` once (isbot + woothee).
    pub fn parse(user_agent: &str) -> Self {
        if user_agent.is_empty() {
            return Self::default();
        }
        let parsed = PARSER.parse(user_agent);
        let bot = BOTS.is_bot(user_agent) || parsed.as_ref().is_some_and(|r| r.category == "crawler");
        let Some(r) = parsed else { return Self { bot, ..Self::default() } };
        let (os, os_version) = os_family(r.os, &r.os_version);
        let device = match device_of(r.category, r.os, user_agent, 0) {
            "" => None,
            d => Some(d),
        };
        Self { bot, browser: known(r.name).to_owned(), browser_version: major_minor(r.version), os, os_version, device }
    }

    /// The classification of an event with this UA and `screen_width`.
    pub fn agent(&self, screen_width: u32) -> Agent {
        Agent {
            browser: self.browser.clone(),
            browser_version: self.browser_version.clone(),
            os: self.os.clone(),
            os_version: self.os_version.clone(),
            device: self.device.unwrap_or_else(|| device_of("", "", "", screen_width)).to_owned(),
        }
    }
}

/// Classifies a (non-bot) User-Agent; `screen_width` decides the device
/// when the UA does not.
pub fn classify_agent(user_agent: &str, screen_width: u32) -> Agent {
    UserAgentInfo::parse(user_agent).agent(screen_width)
}
