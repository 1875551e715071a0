//! The web app (`/app`) in Debian's Chromium, driven over WebDriver (chromedriver) by
//! fantoccini, against the real API and worker: every flow a user has, as they would go
//! through it. Each test saves a screenshot of its final state under
//! `<target>/<profile>/web-screenshots/` and checks it is not blank.

mod accounts;
mod analytics;
mod bluesky;
mod calendar;
mod composer;
mod console;
mod density;
mod developer;
mod edits;
mod event_source;
mod evergreen;
mod every_platform;
mod flows;
mod guards;
mod language;
mod library;
mod linkedin;
mod media_sent;
mod members;
mod phone;
mod posts;
mod publishing_page;
mod queue;
mod refusals;
mod review;
mod review_links;
mod roles;
mod serving;
mod session;
mod sign_in;
mod themes;
mod together;
mod usage;

use std::{
    path::PathBuf,
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator, elements::Element, wd::Capabilities};
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::helpers::{TestApp, TestOptions, eventually, spawn_app_with};

/// An app whose web page offers development sign-in, with `env` besides.
async fn app_with(mut env: Vec<(&'static str, String)>) -> TestApp {
    env.push(("DEV_LOGIN", "true".into()));
    spawn_app_with(TestOptions {
        env,
        ..Default::default()
    })
    .await
}

/// Two browsers at a time: each Chromium wants a core while the app under test runs too.
static BROWSERS: std::sync::LazyLock<Arc<Semaphore>> =
    std::sync::LazyLock::new(|| Arc::new(Semaphore::new(2)));

/// How long the page gets to show what a step waits for.
const PATIENCE: Duration = Duration::from_secs(30);

fn find_program(names: &[&str]) -> String {
    names
        .iter()
        .find_map(|name| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .find(|p| p.exists())
                .map(|p| p.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| {
            panic!("{names:?} not installed: `make test` installs Debian's chromium and chromium-driver")
        })
}

/// Debian's Chromium (or another Chromium on `PATH`).
pub fn chromium() -> String {
    find_program(&["chromium", "chromium-browser", "google-chrome"])
}

/// Where screenshots go: beside the test binary's build profile.
fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile = exe
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "deps"))
        .and_then(|deps| deps.parent())
        .map_or_else(std::env::temp_dir, PathBuf::from);
    profile.join("web-screenshots")
}

pub struct Browser {
    pub client: Client,
    pub base: String,
    pub downloads: PathBuf,
    name: String,
    /// Phone-sized screenshots taken so far (`fits_a_phone`).
    phone_shots: std::sync::atomic::AtomicUsize,
    profile: PathBuf,
    _driver: tokio::process::Child,
    _permit: OwnedSemaphorePermit,
}

impl Browser {
    /// A fresh headless Chromium (its own profile and download folder) on `app`.
    pub async fn start(app: &TestApp, name: &str) -> Self {
        Self::start_in(app, name, "en-GB").await
    }

    /// [`Browser::start`] with the browser's language set to `language` (`fr-FR`).
    pub async fn start_in(app: &TestApp, name: &str, language: &str) -> Self {
        Self::start_in_zone(app, name, language, "UTC").await
    }

    /// [`Browser::start_in`] with the reader's clock in `zone` (`Europe/Paris`).
    pub async fn start_in_zone(app: &TestApp, name: &str, language: &str, zone: &str) -> Self {
        let permit = BROWSERS.clone().acquire_owned().await.unwrap();
        Self::launch(app, name, language, zone, permit).await
    }

    /// Two browsers at once (two people on one page), their turns taken together: a test
    /// holding one while it waits for a second could wait on another test doing the same.
    pub async fn pair(app: &TestApp, names: [&str; 2]) -> (Self, Self) {
        let mut both = BROWSERS.clone().acquire_many_owned(2).await.unwrap();
        let second = both.split(1).expect("two permits");
        (
            Self::launch(app, names[0], "en-GB", "UTC", both).await,
            Self::launch(app, names[1], "en-GB", "UTC", second).await,
        )
    }

    async fn launch(
        app: &TestApp,
        name: &str,
        language: &str,
        zone: &str,
        permit: OwnedSemaphorePermit,
    ) -> Self {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        // In a process group of its own, so that Chromium goes with it (see `Drop`).
        let driver = tokio::process::Command::new(find_program(&["chromedriver"]))
            .arg(format!("--port={port}"))
            // Chromium, started by chromedriver, reads the reader's zone from here.
            .env("TZ", zone)
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let webdriver = format!("http://127.0.0.1:{port}");
        let status = reqwest::Client::new();
        eventually(
            Duration::from_secs(20),
            "chromedriver to answer",
            || async {
                status
                    .get(format!("{webdriver}/status"))
                    .send()
                    .await
                    .ok()
                    .filter(|r| r.status().is_success())
                    .map(|_| ())
            },
        )
        .await;
        let profile = std::env::temp_dir().join(format!("almanac-web-{}", Uuid::new_v4()));
        let downloads = profile.join("downloads");
        std::fs::create_dir_all(&downloads).unwrap();
        let mut capabilities = Capabilities::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium(),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--window-size=1280,900", format!("--lang={language}"),
                    format!("--user-data-dir={}", profile.join("chrome").display()),
                ],
                "prefs": {
                    "intl.accept_languages": language,
                    "download.default_directory": downloads,
                    "download.prompt_for_download": false,
                },
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&webdriver)
            .await
            .expect("a WebDriver session");
        Self {
            client,
            base: app.address.clone(),
            downloads,
            name: name.to_owned(),
            phone_shots: Default::default(),
            profile,
            _driver: driver,
            _permit: permit,
        }
    }

    /// Opens `path` of the server (`/review/<token>`), outside the app.
    pub async fn visit(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    /// The names of the cookies the browser holds for the server (`HttpOnly` ones too).
    pub async fn cookie_names(&self) -> Vec<String> {
        self.client
            .get_all_cookies()
            .await
            .unwrap()
            .iter()
            .map(|cookie| cookie.name().to_owned())
            .collect()
    }

    /// Opens `/app/` at `hash` (`#/calendar`, ...).
    pub async fn open(&self, hash: &str) {
        self.client
            .goto(&format!("{}/app/{hash}", self.base))
            .await
            .unwrap();
    }

    /// Signs in with the development button as a new user; that user's id.
    pub async fn sign_in(&self) -> Uuid {
        self.open("").await;
        self.click("#dev-login-new").await;
        self.wait("#nav:not([hidden])").await;
        let user = self
            .script("return localStorage.getItem('almanac.devUser')")
            .await;
        user.as_str().unwrap().parse().unwrap()
    }

    /// Signs in by pasting `token`, as a user given one by their administrator.
    pub async fn sign_in_with_token(&self, token: &str) {
        self.open("").await;
        self.fill("#token", token).await;
        self.click("#sign-in").await;
        self.wait("#nav:not([hidden])").await;
    }

    /// Presses Escape where the focus is.
    pub async fn press_escape(&self) {
        let focused = self.client.active_element().await.unwrap();
        focused.send_keys("\u{E00C}").await.unwrap();
    }

    /// Waits for the confirmation that asks `asked`, and answers "Keep".
    pub async fn keep_after(&self, asked: &str) {
        self.wait_text("dialog.confirm h2", asked).await;
        self.click("#confirm-no").await;
    }

    pub async fn script(&self, source: &str) -> Value {
        self.client.execute(source, vec![]).await.unwrap()
    }

    /// The first element `css` matches, once there is one that is displayed.
    pub async fn wait(&self, css: &str) -> Element {
        let started = Instant::now();
        loop {
            if let Ok(found) = self.client.find(Locator::Css(css)).await
                && found.is_displayed().await.unwrap_or(false)
            {
                return found;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "the page never showed `{css}`; it reads:\n{}",
                self.page_text().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `check(page)` holds, `page` being what the script returns.
    pub async fn until(&self, what: &str, script: &str, check: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let value = self.script(script).await;
            if check(&value) {
                return value;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{what}: still {value} after {PATIENCE:?}; the page reads:\n{}",
                self.page_text().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The number of elements `css` matches.
    pub async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.unwrap().len()
    }

    /// Waits until `css` matches exactly `n` elements.
    pub async fn wait_count(&self, css: &str, n: usize) {
        let script = format!(
            "return document.querySelectorAll({}).length",
            serde_json::to_string(css).unwrap()
        );
        self.until(&format!("{n} of `{css}`"), &script, |v| v == &json!(n))
            .await;
    }

    /// Clicks the element `css` matches; when the page re-rendered it between finding and
    /// clicking (a stale element), the new one is found and clicked.
    pub async fn click(&self, css: &str) {
        for _ in 0..5 {
            match self.wait(css).await.click().await {
                Ok(()) => return,
                Err(fantoccini::error::CmdError::Standard(e))
                    if e.error == fantoccini::error::ErrorStatus::StaleElementReference => {}
                Err(other) => panic!("clicking `{css}`: {other}"),
            }
        }
        panic!("`{css}` was re-rendered under every click");
    }

    pub async fn text(&self, css: &str) -> String {
        self.wait(css).await.text().await.unwrap()
    }

    /// Waits until the text of `css` contains `needle`; the text.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        let script = format!(
            "const e = document.querySelector({}); return e ? e.textContent : null",
            serde_json::to_string(css).unwrap()
        );
        let value = self
            .until(&format!("`{css}` to read {needle:?}"), &script, |v| {
                v.as_str().is_some_and(|t| t.contains(needle))
            })
            .await;
        value.as_str().unwrap().to_owned()
    }

    /// Replaces the value of the input `css` with `text`, as typed.
    pub async fn fill(&self, css: &str, text: &str) {
        let input = self.wait(css).await;
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    }

    pub async fn page_text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(e) => format!("(no page: {e})"),
        }
    }

    /// At 375 px wide the page does not scroll sideways.
    pub async fn fits_a_phone(&self) {
        self.client.set_window_size(375, 800).await.unwrap();
        let widths = self
            .until(
                "the layout to settle at 375 px",
                "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]",
                |v| v[1].as_u64().is_some_and(|w| w <= 375),
            )
            .await;
        assert!(
            widths[0].as_u64() <= widths[1].as_u64(),
            "the page scrolls sideways at 375 px: {widths}"
        );
        // Nor is anything cut off at the right edge (the body hides overflow): every visible
        // element ends within the window, unless a box of its own scrolls it (a wide table).
        let overflowing = self
            .script(
                "const inScroller = (e) => { for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
                   const x = getComputedStyle(p).overflowX; if (x === 'auto' || x === 'scroll') return true; } return false; };
                 return [...document.querySelectorAll('body *')].filter((e) => {
                   const r = e.getBoundingClientRect();
                   return r.width > 0 && r.height > 0 && r.right > window.innerWidth + 1 && !e.closest('dialog:not([open])')
                     && !inScroller(e) && getComputedStyle(e).position !== 'fixed';
                 }).slice(0, 5).map((e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${e.className} (${Math.round(e.getBoundingClientRect().right)} px)`)",
            )
            .await;
        assert_eq!(
            overflowing,
            json!([]),
            "cut off at the right edge at 375 px"
        );
        // A table's header is a word or two, never broken across lines.
        let broken = self
            .script(
                "return [...document.querySelectorAll('th')].filter((th) => {
                   const range = document.createRange(); range.selectNodeContents(th);
                   return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size > 1;
                 }).map((th) => th.textContent)",
            )
            .await;
        assert_eq!(
            broken,
            json!([]),
            "table headers broken across lines at 375 px"
        );
        // What a phone shows, saved beside the desktop one (`<name>-375-<n>.png`).
        let n = self
            .phone_shots
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        self.save_screenshot(&format!("{}-375-{n}", self.name))
            .await;
        self.client.set_window_size(1280, 900).await.unwrap();
    }

    /// Every input, select and textarea has a label (wrapping it, `for` or `aria-label`).
    pub async fn every_input_is_labelled(&self) {
        let unlabelled = self
            .script(
                "return [...document.querySelectorAll('input, select, textarea')]
                   .filter(e => e.type !== 'hidden' && !e.closest('label') && !e.labels?.length
                     && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
                   .map(e => e.outerHTML)",
            )
            .await;
        assert_eq!(unlabelled, json!([]), "inputs without a label");
    }

    /// A file the page downloaded, once it is complete.
    pub async fn downloaded(&self, name: &str) -> String {
        let path = self.downloads.join(name);
        eventually(PATIENCE, &format!("the download {name}"), || async {
            std::fs::read_to_string(&path)
                .ok()
                .filter(|s| !s.is_empty())
        })
        .await
    }

    /// The bytes of a file the page downloaded, once there are some.
    pub async fn downloaded_bytes(&self, name: &str) -> Vec<u8> {
        let path = self.downloads.join(name);
        eventually(PATIENCE, &format!("the download {name}"), || async {
            std::fs::read(&path).ok().filter(|b| !b.is_empty())
        })
        .await
    }

    /// Sets a form control's value as a user's picker would (date inputs take no typing
    /// that does not depend on the locale), with its `input` and `change` events.
    pub async fn set_value(&self, css: &str, value: &str) {
        self.wait(css).await;
        self.client
            .execute(
                "const e = document.querySelector(arguments[0]); e.value = arguments[1];
                 e.dispatchEvent(new Event('input', {bubbles: true}));
                 e.dispatchEvent(new Event('change', {bubbles: true}));",
                vec![json!(css), json!(value)],
            )
            .await
            .unwrap();
    }

    /// Saves the page as `<name>.png` under the screenshot folder; it is not one colour.
    pub async fn screenshot(&self) {
        self.save_screenshot(&self.name).await;
    }

    /// Screenshots of the part of the page `css` matches: at the desktop size, then on a
    /// phone (`-phone`), which the page must fit.
    pub async fn screenshots_at(&self, css: &str) {
        let scroll = format!(
            "document.querySelector({}).scrollIntoView()",
            serde_json::to_string(css).unwrap()
        );
        self.script(&scroll).await;
        self.screenshot().await;
        self.viewport(375, 800).await;
        self.script(&scroll).await;
        self.screenshot_of("phone").await;
        self.fits_a_phone().await;
    }

    /// Saves the page as `<name>-<step>.png`, a step of the test worth seeing.
    pub async fn screenshot_of(&self, step: &str) {
        self.save_screenshot(&format!("{}-{step}", self.name)).await;
    }

    /// Makes the page's viewport (what the page lays out in) `width` x `height`.
    pub async fn viewport(&self, width: u32, height: u32) {
        let chrome = self
            .script("return [outerWidth - innerWidth, outerHeight - innerHeight]")
            .await;
        let extra = |i: usize| chrome[i].as_u64().unwrap_or_default() as u32;
        self.client
            .set_window_size(width + extra(0), height + extra(1))
            .await
            .unwrap();
        self.until(
            &format!("the viewport to be {width}x{height}"),
            "return [innerWidth, innerHeight]",
            |v| v == &json!([width, height]),
        )
        .await;
    }

    /// Drags the first element `from` matches onto the first `to` matches with the mouse
    /// (pointer events: WebDriver cannot drive HTML5 drag and drop in Chromium).
    pub async fn drag(&self, from: &str, to: &str) {
        use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
        let source = self.wait(from).await;
        let target = self.wait(to).await;
        let step = Some(Duration::from_millis(50));
        let actions = MouseActions::new("mouse".into())
            .then(PointerAction::MoveToElement {
                element: source,
                duration: None,
                x: 0.0,
                y: 0.0,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::MoveBy {
                duration: step,
                x: 12.0,
                y: 12.0,
            })
            .then(PointerAction::MoveToElement {
                element: target.clone(),
                duration: Some(Duration::from_millis(200)),
                x: 0.0,
                y: 0.0,
            })
            .then(PointerAction::MoveToElement {
                element: target,
                duration: step,
                x: 1.0,
                y: 1.0,
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            });
        self.client.perform_actions(actions).await.unwrap();
        self.client.release_actions().await.unwrap();
    }

    async fn save_screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, &png).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(&png));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        let pixels = &pixels[..info.buffer_size()];
        let step = info.color_type.samples();
        let first = &pixels[..step];
        let differing = pixels.chunks(step).filter(|p| *p != first).count();
        assert!(
            differing * 100 > pixels.len() / step,
            "the screenshot {} is (nearly) blank",
            path.display()
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver and the Chromium it started, even when the test failed midway.
        if let Some(pid) = self._driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{pid}")])
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
