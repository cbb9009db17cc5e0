//! The page checks themselves: on a page built to fail them, each check reports its problem, so
//! a page that passes them has been looked at.

use crate::browser::Browser;
use crate::tools::Tools;

const BAD_PAGE: &str = r##"<!doctype html><html lang="en"><head><title>bad</title></head><body>
<div><form><input id="unlabelled" name="unlabelled"><button tabindex="-1">hidden from keyboard</button>
<img src="data:," id="no-alt"></form></div></body></html>"##;

const GOOD_PAGE: &str = r##"<!doctype html><html lang="en"><head><title>good</title></head><body>
<main><h1>Good</h1><form><label for="name">Name</label><input id="name" name="name">
<button>Save</button></form><a href="#top">Top</a></main></body></html>"##;

#[tokio::test]
async fn the_page_checks_report_a_missing_label_landmark_and_keyboard_stop_and_pass_a_good_page() {
    let test = "page_checks";
    let Some(tools) = Tools::find(test) else { return };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let browser = Browser::start(&tools, dir.path(), test).await.expect("the browser starts");

    browser.client.goto(&data_url(BAD_PAGE)).await.expect("the bad page opens");
    let problems = browser.check_page("bad").await.expect_err("the bad page fails its checks").to_string();
    for expected in [
        "axe label (critical)",
        "axe image-alt (critical)",
        "expected one <main> landmark, found 0",
        "form control without a label: <input name=unlabelled>",
        "taken out of the tab order (tabindex -1): <button> hidden from keyboard",
    ] {
        assert!(problems.contains(expected), "expected {expected:?} among the problems:\n{problems}");
    }

    browser.client.goto(&data_url(GOOD_PAGE)).await.expect("the good page opens");
    browser.check_page("good").await.expect("the good page passes its checks");
    assert!(browser.screenshot("good").await.expect("a screenshot").is_file());
    browser.close().await.expect("the browser closes");
}

fn data_url(html: &str) -> String {
    let mut encoded = String::from("data:text/html;charset=utf-8,");
    for byte in html.bytes() {
        if byte.is_ascii_alphanumeric() {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}
