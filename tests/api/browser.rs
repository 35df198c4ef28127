//! A browser stand-in for the sign-in tests: keeps the cookies the service
//! sets (by name, for the service's own origin only), follows no redirect,
//! and knows the dev identity provider's person picker.

use std::collections::BTreeMap;
use std::sync::Mutex;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode};

use crate::helpers::TestApp;

pub struct Browser {
    base: String,
    http: reqwest::Client,
    cookies: Mutex<BTreeMap<String, String>>,
}

/// Where a redirect points.
pub fn location(response: &Response) -> String {
    response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// The `Set-Cookie` headers of a response.
pub fn set_cookies(response: &Response) -> Vec<String> {
    response.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

/// The value of query parameter `name` in `url`.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url).ok()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { base: app.base.clone(), http, cookies: Mutex::default() }
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with('/') { format!("{}{url}", self.base) } else { url.to_owned() }
    }

    fn remember(&self, response: &Response) {
        let mut jar = self.cookies.lock().unwrap();
        for cookie in set_cookies(response) {
            let (pair, attributes) = cookie.split_once(';').unwrap_or((&cookie, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || attributes.contains("Max-Age=0") {
                jar.remove(name);
            } else {
                jar.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder, url: &str) -> Response {
        let mut request = request;
        if url.starts_with(&self.base) {
            let header: Vec<String> = self.cookies.lock().unwrap().iter().map(|(k, v)| format!("{k}={v}")).collect();
            if !header.is_empty() {
                request = request.header(COOKIE, header.join("; "));
            }
        }
        let response = request.send().await.unwrap();
        if url.starts_with(&self.base) {
            self.remember(&response);
        }
        response
    }

    pub async fn get(&self, url: &str) -> Response {
        let url = self.absolute(url);
        self.send(self.http.get(&url), &url).await
    }

    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Response {
        let url = self.absolute(url);
        self.send(self.http.post(&url).form(form), &url).await
    }

    /// POST a multipart form: text `fields` and one file part.
    pub async fn post_file(&self, url: &str, fields: &[(&str, &str)], file: (&str, Vec<u8>, &str)) -> Response {
        let url = self.absolute(url);
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        let (name, bytes, mime) = file;
        let part = reqwest::multipart::Part::bytes(bytes).file_name("upload").mime_str(mime).unwrap();
        form = form.part(name.to_owned(), part);
        self.send(self.http.post(&url).multipart(form), &url).await
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies.lock().unwrap().insert(name.to_owned(), value.to_owned());
    }

    /// On the dev provider's picker at `authorize_url`, pick `sub`; returns
    /// where the provider sends the browser back to.
    pub async fn pick(&self, authorize_url: &str, sub: &str) -> String {
        let page = self.get(authorize_url).await;
        assert_eq!(page.status(), StatusCode::OK, "{authorize_url}");
        let html = page.text().await.unwrap();
        let request = html.split("name=\"request\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
        let action = authorize_url.split('?').next().unwrap().to_owned();
        let chosen = self.post_form(&action, &[("request", &request), ("sub", sub)]).await;
        assert_eq!(chosen.status(), StatusCode::SEE_OTHER, "{sub} is not a demo person there");
        location(&chosen)
    }

    /// Start a console sign-in at `org` and pick `sub`: returns the
    /// callback URL the provider sends the browser back to.
    pub async fn through_dev_provider(&self, org: &str, sub: &str, return_to: &str) -> String {
        let start = self.get(&format!("/auth/oidc/{org}/start?return_to={return_to}")).await;
        assert_eq!(start.status(), StatusCode::SEE_OTHER);
        self.pick(&location(&start), sub).await
    }

    /// Sign in to the console as `org/sub` through the dev provider.
    pub async fn sign_in(app: &TestApp, org: &str, sub: &str) -> Self {
        let browser = Self::new(app);
        let callback = browser.through_dev_provider(org, sub, "/").await;
        let done = browser.get(&callback).await;
        assert_eq!((done.status(), location(&done).as_str()), (StatusCode::SEE_OTHER, "/"));
        assert!(browser.cookie("rv_session").is_some());
        browser
    }

    /// The console's start page: its status and HTML (or where it redirects).
    pub async fn home(&self) -> (StatusCode, String) {
        let r = self.get("/").await;
        let status = r.status();
        if status == StatusCode::SEE_OTHER { (status, location(&r)) } else { (status, r.text().await.unwrap()) }
    }

    /// The CSRF token the start page's sign-out form carries.
    pub async fn csrf_token(&self) -> String {
        let (status, html) = self.home().await;
        assert_eq!(status, StatusCode::OK, "{html}");
        html.split("name=\"csrf_token\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned()
    }
}
