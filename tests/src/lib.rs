//! What the end-to-end suite and the app benchmark share: a small W3C WebDriver client, and
//! the real `optdesk-app` started by WebKitWebDriver on a temporary database.
//!
//! On Linux, WebKitWebDriver is driven directly (RECIPE.md: tauri-driver 2.1 drops connections
//! now and then); `TAURI_WEBVIEW_AUTOMATION=true` is what makes the app's webview accept it.
#![forbid(unsafe_code)]

pub mod app;
pub mod webdriver;
