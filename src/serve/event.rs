//! The two conversions a function URL makes around an invocation: an HTTP request becomes a
//! payload format 2.0 event, and what the function returns becomes the HTTP response.
//!
//! Pure functions over `http` types and bytes, so every rule here is unit-tested without a
//! server. The rules follow Lambda's function URL documentation: lowercased headers with
//! duplicates joined by commas, cookies moved out of the headers into their own list, a body
//! in base64 unless its content type is text, and a response that is not an object with a
//! `statusCode` passed through as a 200 `application/json` body.

use std::net::IpAddr;

use base64::Engine as _;
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

/// What the event needs to know besides the request itself.
#[derive(Debug, Clone)]
pub(crate) struct RequestMeta<'a> {
    pub request_id: &'a str,
    pub trace_id: &'a str,
    pub source_ip: IpAddr,
    /// The port the client connected to (for `x-forwarded-port`).
    pub local_port: u16,
    pub now: OffsetDateTime,
}

/// The `apiId` of the local URL (a real one is the URL's 32-character id).
pub(crate) const LOCAL_API_ID: &str = "deployactionserve";

/// The function URL event for `parts` + `body`.
#[must_use]
pub(crate) fn request_event(
    parts: &http::request::Parts,
    body: &[u8],
    meta: &RequestMeta<'_>,
) -> Value {
    let (headers, cookies) = event_headers(&parts.headers, meta);
    let raw_query = parts.uri.query().unwrap_or("");
    let path = parts.uri.path();
    let host = headers
        .get("host")
        .and_then(Value::as_str)
        .unwrap_or("127.0.0.1")
        .to_string();
    let domain_name = host
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(host.as_str(), |(name, _)| name)
        .to_string();
    let domain_prefix = domain_name
        .split('.')
        .next()
        .unwrap_or(&domain_name)
        .to_string();
    let user_agent = headers
        .get("user-agent")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let protocol = match parts.version {
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    };
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": LOCAL_API_ID,
            "domainName": domain_name,
            "domainPrefix": domain_prefix,
            "http": {
                "method": parts.method.as_str(),
                "path": path,
                "protocol": protocol,
                "sourceIp": meta.source_ip.to_string(),
                "userAgent": user_agent,
            },
            "requestId": meta.request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": request_time(meta.now),
            "timeEpoch": unix_millis(meta.now),
        },
        "isBase64Encoded": false,
    });
    let obj = event.as_object_mut().expect("built as an object");
    if !cookies.is_empty() {
        obj.insert("cookies".into(), Value::from(cookies));
    }
    let query = query_parameters(raw_query);
    if !query.is_empty() {
        obj.insert("queryStringParameters".into(), Value::Object(query));
    }
    if !body.is_empty() {
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        match std::str::from_utf8(body) {
            Ok(text) if is_text_content_type(content_type) => {
                obj.insert("body".into(), Value::from(text));
            }
            _ => {
                obj.insert(
                    "body".into(),
                    Value::from(base64::engine::general_purpose::STANDARD.encode(body)),
                );
                obj.insert("isBase64Encoded".into(), Value::Bool(true));
            }
        }
    }
    event
}

/// The account an HTTP API event names (a function URL's public event says `anonymous`).
pub(crate) const LOCAL_ACCOUNT: &str = "123456789012";
/// The `apiId` of the local HTTP API (real ones are 10 characters).
pub(crate) const LOCAL_HTTP_API_ID: &str = "localhttp0";

/// Turn a function URL event into the one an API Gateway HTTP API sends through its
/// `$default` route with payload format 2.0: the same shape (version, routeKey, cookies,
/// base64 bodies), with the API's id and the owner's account in the request context
/// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html).
pub(crate) fn into_http_api_event(event: &mut Value) {
    if let Some(ctx) = event
        .get_mut("requestContext")
        .and_then(Value::as_object_mut)
    {
        ctx.insert("accountId".into(), Value::from(LOCAL_ACCOUNT));
        ctx.insert("apiId".into(), Value::from(LOCAL_HTTP_API_ID));
    }
}

/// Headers as the event carries them, and the cookies taken out of them. Names are lowercase
/// (`http` stores them so); several values of one name are joined with commas. The
/// `x-forwarded-*` and `x-amzn-trace-id` headers a function URL adds are added when absent.
fn event_headers(headers: &HeaderMap, meta: &RequestMeta<'_>) -> (Map<String, Value>, Vec<String>) {
    let mut out = Map::new();
    let mut cookies = Vec::new();
    for name in headers.keys() {
        let values = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        if name == header::COOKIE {
            for value in values {
                cookies.extend(
                    value
                        .split(';')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(String::from),
                );
            }
            continue;
        }
        out.insert(
            name.as_str().to_string(),
            Value::from(values.collect::<Vec<_>>().join(",")),
        );
    }
    for (name, value) in [
        ("x-forwarded-for", meta.source_ip.to_string()),
        ("x-forwarded-proto", "http".to_string()),
        ("x-forwarded-port", meta.local_port.to_string()),
        ("x-amzn-trace-id", meta.trace_id.to_string()),
    ] {
        out.entry(name).or_insert_with(|| Value::from(value));
    }
    (out, cookies)
}

/// `queryStringParameters`: decoded, several values of one name joined with commas.
fn query_parameters(raw: &str) -> Map<String, Value> {
    let mut out: Map<String, Value> = Map::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_decode(name);
        let value = percent_decode(value);
        match out.get_mut(&name) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                out.insert(name, Value::from(value));
            }
        }
    }
    out
}

/// Form-style decoding: `+` is a space, `%XX` a byte; invalid escapes stay as they are.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Whether a body of this content type reaches the function as text (else base64). Lambda
/// treats `text/*` and the JSON, XML and JavaScript types as text; form posts arrive in
/// base64, as they do from a real function URL.
#[must_use]
pub(crate) fn is_text_content_type(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-javascript"
                | "application/ecmascript"
                | "application/graphql"
                | "application/yaml"
                | "application/x-yaml"
        )
}

/// `12/Mar/2020:19:03:58 +0000`, the format of `requestContext.time`.
fn request_time(now: OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
    );
    now.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default()
}

#[must_use]
pub(crate) fn unix_millis(now: OffsetDateTime) -> i64 {
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// An HTTP response made from a function's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpReply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Headers the front sets itself: a function's own values would describe another transport.
const HOP_BY_HOP: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
];

/// The HTTP response for a buffered function result. `Err` is a result no function URL could
/// turn into a response (the client gets a 502; the message goes to the log).
pub(crate) fn response_from_payload(payload: &[u8]) -> Result<HttpReply, String> {
    let value: Option<Value> = serde_json::from_slice(payload).ok();
    match value {
        Some(Value::Object(obj)) if obj.contains_key("statusCode") => {
            structured_reply(&obj, "application/json")
        }
        // Anything else is the body itself: Lambda assumes 200 and application/json.
        _ => {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Ok(HttpReply {
                status: StatusCode::OK,
                headers,
                body: payload.to_vec(),
            })
        }
    }
}

/// The HTTP response for a streamed result (`Lambda-Runtime-Function-Response-Mode:
/// streaming`): a JSON prelude with status, headers and cookies, eight NUL bytes, then the
/// body as is.
pub(crate) fn response_from_stream(raw: &[u8]) -> Result<HttpReply, String> {
    const DELIMITER: &[u8] = &[0; 8];
    let Some(split) = raw.windows(DELIMITER.len()).position(|w| w == DELIMITER) else {
        // No prelude: the whole stream is the body.
        return Ok(HttpReply {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: raw.to_vec(),
        });
    };
    let prelude: Map<String, Value> = serde_json::from_slice(&raw[..split])
        .map_err(|e| format!("the streamed response's prelude is not a JSON object: {e}"))?;
    let mut reply = structured_reply(&prelude, "application/octet-stream")?;
    reply.body = raw[split + DELIMITER.len()..].to_vec();
    Ok(reply)
}

fn structured_reply(
    obj: &Map<String, Value>,
    default_content_type: &'static str,
) -> Result<HttpReply, String> {
    let status = match obj.get("statusCode") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        _ => None,
    }
    .and_then(|n| u16::try_from(n).ok())
    .and_then(|n| StatusCode::from_u16(n).ok())
    .filter(|s| (100..=599).contains(&s.as_u16()))
    .ok_or_else(|| {
        format!(
            "the function returned statusCode {}, which is not an HTTP status",
            obj.get("statusCode").unwrap_or(&Value::Null)
        )
    })?;
    let mut headers = HeaderMap::new();
    if let Some(Value::Object(map)) = obj.get("headers") {
        for (name, value) in map {
            if let Some(v) = scalar_text(value) {
                append_header(&mut headers, name, &v)?;
            }
        }
    }
    if let Some(Value::Object(map)) = obj.get("multiValueHeaders") {
        for (name, values) in map {
            let values = match values {
                Value::Array(items) => items.iter().filter_map(scalar_text).collect(),
                other => scalar_text(other).into_iter().collect::<Vec<_>>(),
            };
            for v in values {
                append_header(&mut headers, name, &v)?;
            }
        }
    }
    if let Some(Value::Array(cookies)) = obj.get("cookies") {
        for cookie in cookies.iter().filter_map(Value::as_str) {
            append_header(&mut headers, "set-cookie", cookie)?;
        }
    }
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
    let base64 = obj
        .get("isBase64Encoded")
        .is_some_and(|v| v.as_bool() == Some(true));
    let body = match obj.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if base64 => base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map_err(|e| format!("the function's isBase64Encoded body is not base64: {e}"))?,
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(other) => other.to_string().into_bytes(),
    };
    if !headers.contains_key(header::CONTENT_TYPE) {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(default_content_type),
        );
    }
    Ok(HttpReply {
        status,
        headers,
        body,
    })
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn append_header(headers: &mut HeaderMap, name: &str, value: &str) -> Result<(), String> {
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("the function returned an invalid header name {name:?}"))?;
    let value = HeaderValue::from_str(value)
        .map_err(|_| format!("the function returned an invalid value for header {name}"))?;
    headers.append(name, value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(now: OffsetDateTime) -> RequestMeta<'static> {
        RequestMeta {
            request_id: "11111111-2222-4333-8444-555555555555",
            trace_id: "Root=1-00000000-000000000000000000000000",
            source_ip: "127.0.0.1".parse().unwrap(),
            local_port: 9000,
            now,
        }
    }

    fn parts(req: http::Request<()>) -> http::request::Parts {
        req.into_parts().0
    }

    #[test]
    fn get_with_query_cookies_and_duplicate_headers() {
        let req = http::Request::get("/items/a%20b?x=1&y=hello+world&x=2&flag")
            .header("host", "127.0.0.1:9000")
            .header("user-agent", "curl/8")
            .header("accept", "text/html")
            .header("accept", "application/json")
            .header("cookie", "a=1; b=2")
            .body(())
            .unwrap();
        let now = OffsetDateTime::from_unix_timestamp(1_583_348_638).unwrap();
        let event = request_event(&parts(req), b"", &meta(now));
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["routeKey"], "$default");
        assert_eq!(event["rawPath"], "/items/a%20b");
        assert_eq!(event["rawQueryString"], "x=1&y=hello+world&x=2&flag");
        assert_eq!(
            event["queryStringParameters"],
            json!({"x": "1,2", "y": "hello world", "flag": ""})
        );
        assert_eq!(event["headers"]["accept"], "text/html,application/json");
        assert_eq!(event["headers"]["x-forwarded-for"], "127.0.0.1");
        assert!(event["headers"].get("cookie").is_none());
        assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
        assert!(event.get("body").is_none());
        assert_eq!(event["isBase64Encoded"], false);
        let ctx = &event["requestContext"];
        assert_eq!(ctx["accountId"], "anonymous");
        assert_eq!(ctx["domainName"], "127.0.0.1");
        assert_eq!(ctx["domainPrefix"], "127");
        assert_eq!(ctx["http"]["method"], "GET");
        assert_eq!(ctx["http"]["path"], "/items/a%20b");
        assert_eq!(ctx["http"]["protocol"], "HTTP/1.1");
        assert_eq!(ctx["http"]["sourceIp"], "127.0.0.1");
        assert_eq!(ctx["http"]["userAgent"], "curl/8");
        assert_eq!(ctx["stage"], "$default");
        assert_eq!(ctx["time"], "04/Mar/2020:19:03:58 +0000");
        assert_eq!(ctx["timeEpoch"], 1_583_348_638_000_i64);
    }

    #[test]
    fn http_api_events_differ_only_in_the_api_and_account() {
        let now = OffsetDateTime::now_utc();
        let req = http::Request::post("/echo?a=1")
            .header("host", "app.example.com")
            .header("cookie", "a=1")
            .header("content-type", "application/octet-stream")
            .body(())
            .unwrap();
        let url_event = request_event(&parts(req), &[0, 1], &meta(now));
        let mut api_event = url_event.clone();
        into_http_api_event(&mut api_event);
        assert_eq!(api_event["requestContext"]["apiId"], LOCAL_HTTP_API_ID);
        assert_eq!(api_event["requestContext"]["accountId"], LOCAL_ACCOUNT);
        assert_eq!(api_event["routeKey"], "$default");
        assert_eq!(api_event["cookies"], json!(["a=1"]));
        assert_eq!(api_event["isBase64Encoded"], true);
        let mut back = api_event.clone();
        back["requestContext"]["apiId"] = url_event["requestContext"]["apiId"].clone();
        back["requestContext"]["accountId"] = url_event["requestContext"]["accountId"].clone();
        assert_eq!(back, url_event);
    }

    #[test]
    fn text_bodies_stay_text_and_others_are_base64() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let json_req = http::Request::post("/echo")
            .header("content-type", "application/json; charset=utf-8")
            .body(())
            .unwrap();
        let event = request_event(&parts(json_req), br#"{"a":1}"#, &meta(now));
        assert_eq!(event["body"], r#"{"a":1}"#);
        assert_eq!(event["isBase64Encoded"], false);

        let bin_req = http::Request::post("/upload")
            .header("content-type", "application/octet-stream")
            .body(())
            .unwrap();
        let event = request_event(&parts(bin_req), &[0, 159, 146, 150], &meta(now));
        assert_eq!(event["body"], "AJ+Slg==");
        assert_eq!(event["isBase64Encoded"], true);

        // Not UTF-8 despite a text type: base64 keeps the bytes.
        let bad_req = http::Request::post("/")
            .header("content-type", "text/plain")
            .body(())
            .unwrap();
        let event = request_event(&parts(bad_req), &[0xff, 0xfe], &meta(now));
        assert_eq!(event["isBase64Encoded"], true);
    }

    #[test]
    fn content_types() {
        assert!(is_text_content_type(Some("text/html; charset=utf-8")));
        assert!(is_text_content_type(Some("application/vnd.api+json")));
        assert!(is_text_content_type(Some("Application/JSON")));
        assert!(!is_text_content_type(Some(
            "application/x-www-form-urlencoded"
        )));
        assert!(!is_text_content_type(Some("image/png")));
        assert!(!is_text_content_type(None));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b+c%2"), "a b c%2");
        assert_eq!(percent_decode("%e2%9c%93"), "✓");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn structured_response_with_cookies_and_multi_value_headers() {
        let payload = json!({
            "statusCode": 201,
            "headers": {"Content-Type": "text/plain", "X-Count": 3, "Content-Length": "999"},
            "multiValueHeaders": {"x-multi": ["a", "b"]},
            "cookies": ["a=1; Path=/", "b=2"],
            "body": "created",
        });
        let reply = response_from_payload(payload.to_string().as_bytes()).unwrap();
        assert_eq!(reply.status, StatusCode::CREATED);
        assert_eq!(reply.headers["content-type"], "text/plain");
        assert_eq!(reply.headers["x-count"], "3");
        assert!(reply.headers.get("content-length").is_none());
        let multi: Vec<_> = reply.headers.get_all("x-multi").iter().collect();
        assert_eq!(multi, ["a", "b"]);
        let cookies: Vec<_> = reply.headers.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1; Path=/", "b=2"]);
        assert_eq!(reply.body, b"created");
    }

    #[test]
    fn base64_bodies_are_decoded() {
        let payload = json!({
            "statusCode": "200",
            "headers": {"content-type": "image/png"},
            "body": "AAEC/w==",
            "isBase64Encoded": true,
        });
        let reply = response_from_payload(payload.to_string().as_bytes()).unwrap();
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body, [0, 1, 2, 255]);
        let bad = json!({"statusCode": 200, "body": "not base64!", "isBase64Encoded": true});
        assert!(response_from_payload(bad.to_string().as_bytes()).is_err());
    }

    #[test]
    fn other_results_are_json_bodies() {
        for payload in [
            &br#"{"message":"hi"}"#[..],
            b"\"Hello\"",
            b"42",
            b"not json",
        ] {
            let reply = response_from_payload(payload).unwrap();
            assert_eq!(reply.status, StatusCode::OK);
            assert_eq!(reply.headers["content-type"], "application/json");
            assert_eq!(reply.body, payload);
        }
        let defaulted = response_from_payload(br#"{"statusCode":204}"#).unwrap();
        assert_eq!(defaulted.status, StatusCode::NO_CONTENT);
        assert_eq!(defaulted.headers["content-type"], "application/json");
        assert!(defaulted.body.is_empty());
    }

    #[test]
    fn bad_status_codes_are_errors() {
        assert!(response_from_payload(br#"{"statusCode":"abc"}"#).is_err());
        assert!(response_from_payload(br#"{"statusCode":42}"#).is_err());
        assert!(
            response_from_payload(br#"{"statusCode":200,"headers":{"bad name":"x"}}"#).is_err()
        );
    }

    #[test]
    fn streamed_response_prelude() {
        let mut raw = br#"{"statusCode":202,"headers":{"x-a":"1"},"cookies":["c=1"]}"#.to_vec();
        raw.extend_from_slice(&[0; 8]);
        raw.extend_from_slice(b"streamed\x00body");
        let reply = response_from_stream(&raw).unwrap();
        assert_eq!(reply.status, StatusCode::ACCEPTED);
        assert_eq!(reply.headers["x-a"], "1");
        assert_eq!(reply.headers["set-cookie"], "c=1");
        assert_eq!(reply.body, b"streamed\x00body");
        // A stream without a content type is octet-stream, not JSON.
        let mut raw = br#"{"statusCode":200}"#.to_vec();
        raw.extend_from_slice(&[0; 8]);
        raw.extend_from_slice(b"data");
        let reply = response_from_stream(&raw).unwrap();
        assert_eq!(reply.headers["content-type"], "application/octet-stream");
    }
}
