//! AWS Signature Version 4 for targets with `auth = { aws_sigv4 = { … } }`, signed with the
//! `aws-sigv4` crate.
//!
//! Lifecycle: `prepare` renders the block into a [`Signer`] (credentials resolved: the
//! block's own keys, else `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`
//! from the environment; no profile file is read) → `send` builds the final
//! `reqwest::Request` and calls [`Signer::sign`] on it just before it leaves, so a retried or
//! late request carries a fresh `X-Amz-Date` → the signature is returned so the engine can
//! mask it like a secret.
//!
//! Everything the server sees is signed: method, path, query, every header on the request
//! (`Host` from the URL) and the SHA-256 of the body. For S3 the payload hash also travels as
//! `x-amz-content-sha256` and the path is signed as sent (S3 does not normalise it).
//! The keys and the signature never leave this module except in the request itself and in
//! [`Signer::secrets`], which hands them to the redactor. Nothing here renders templates or
//! journals.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use secrecy::{ExposeSecret, SecretString};

/// The environment variables read when the block gives no key pair (the AWS CLI's names).
pub const ENV_ACCESS_KEY: &str = "AWS_ACCESS_KEY_ID";
pub const ENV_SECRET_KEY: &str = "AWS_SECRET_ACCESS_KEY";
pub const ENV_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";

/// Why a request could not be signed. Messages never contain a key.
#[derive(Debug, thiserror::Error)]
pub enum SigV4Error {
    #[error(
        "aws_sigv4 of target `{target}` has no credentials: give `access_key` and `secret_key` \
         (from `{{{{ secrets.… }}}}`), or export {ENV_ACCESS_KEY} and {ENV_SECRET_KEY}"
    )]
    NoCredentials { target: String },
    #[error("aws_sigv4 of target `{target}`: `{field}` renders to an empty value")]
    Empty { target: String, field: &'static str },
    #[error("cannot sign the request to target `{target}`: {reason}")]
    Sign { target: String, reason: String },
}

/// The rendered `aws_sigv4` block of one request.
pub struct Fields {
    pub region: String,
    pub service: String,
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    pub session_token: Option<String>,
}

/// Credentials and scope, ready to sign requests. Holds secrets: never shown.
pub struct Signer {
    target: String,
    region: String,
    service: String,
    access_key: SecretString,
    secret_key: SecretString,
    session_token: Option<SecretString>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("region", &self.region)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Resolve the credentials: the block's pair if it gives one, else the environment
    /// (`env` is `std::env::var` outside tests).
    pub fn new(
        target: &str,
        fields: Fields,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SigV4Error> {
        let nonempty = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
        let (access_key, secret_key, session_token) = match (fields.access_key, fields.secret_key) {
            (Some(access), Some(secret)) => (access, secret, fields.session_token),
            _ => match (nonempty(env(ENV_ACCESS_KEY)), nonempty(env(ENV_SECRET_KEY))) {
                (Some(access), Some(secret)) => (access, secret, env(ENV_SESSION_TOKEN)),
                _ => {
                    return Err(SigV4Error::NoCredentials {
                        target: target.to_owned(),
                    });
                }
            },
        };
        let empty = |field| SigV4Error::Empty {
            target: target.to_owned(),
            field,
        };
        for (field, value) in [
            ("region", &fields.region),
            ("service", &fields.service),
            ("access_key", &access_key),
            ("secret_key", &secret_key),
        ] {
            if value.trim().is_empty() {
                return Err(empty(field));
            }
        }
        Ok(Self {
            target: target.to_owned(),
            region: fields.region.trim().to_owned(),
            service: fields.service.trim().to_owned(),
            access_key: access_key.trim().to_owned().into(),
            secret_key: secret_key.trim().to_owned().into(),
            session_token: nonempty(session_token).map(|t| t.trim().to_owned().into()),
        })
    }

    /// `region/service`, as the journal names what a request was signed for.
    pub fn scope(&self) -> String {
        format!("{}/{}", self.region, self.service)
    }

    /// The values the redactor must mask wherever they appear.
    pub fn secrets(&self) -> Vec<String> {
        [
            Some(&self.access_key),
            Some(&self.secret_key),
            self.session_token.as_ref(),
        ]
        .into_iter()
        .flatten()
        .map(|s| s.expose_secret().to_owned())
        .collect()
    }

    /// Sign `request` as it will be sent, at `now`; returns the signature (to be masked).
    pub fn sign(
        &self,
        request: &mut reqwest::Request,
        now: SystemTime,
    ) -> Result<String, SigV4Error> {
        let fail = |reason: String| SigV4Error::Sign {
            target: self.target.clone(),
            reason,
        };
        let credentials = Credentials::new(
            self.access_key.expose_secret(),
            self.secret_key.expose_secret(),
            self.session_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned()),
            None,
            "stanch-runbook",
        );
        let identity = credentials.into();
        let mut settings = SigningSettings::default();
        if self.service == "s3" {
            // S3 wants the payload hash as a header and the path exactly as sent.
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
            settings.percent_encoding_mode = PercentEncodingMode::Single;
        }
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(now)
            .settings(settings)
            .build()
            .map_err(|e| fail(e.to_string()))?
            .into();
        let headers: Vec<(&str, &str)> = request
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect();
        let body = request
            .body()
            .and_then(reqwest::Body::as_bytes)
            .unwrap_or_default();
        let signable = SignableRequest::new(
            request.method().as_str(),
            request.url().as_str(),
            headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| fail(e.to_string()))?;
        let (instructions, signature) = sign(signable, &params)
            .map_err(|e| fail(e.to_string()))?
            .into_parts();
        let (new_headers, _query) = instructions.into_parts();
        for header in new_headers {
            let name = reqwest::header::HeaderName::from_static(header.name());
            let value = reqwest::header::HeaderValue::from_str(header.value())
                .map_err(|_| fail(format!("header {} is not valid", header.name())))?;
            request.headers_mut().insert(name, value);
        }
        Ok(signature)
    }
}

/// A form body re-encoded as AWS SDKs encode query-API parameters: letters, digits and
/// `-_.~` as they are, space as `+`, every other byte percent-encoded. The server checks the
/// signature over the bytes it receives, so any encoding verifies against AWS; this one is
/// also what an emulator that re-encodes the parsed form (moto) reproduces byte for byte
/// (the WHATWG form encoding would leave `*` bare, which it turns into `%2A`).
pub fn canonical_form(body: &[u8]) -> Vec<u8> {
    fn push(out: &mut Vec<u8>, text: &str) {
        for &b in text.as_bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b),
                b' ' => out.push(b'+'),
                _ => out.extend_from_slice(format!("%{b:02X}").as_bytes()),
            }
        }
    }
    let mut out = Vec::with_capacity(body.len());
    for (i, (key, value)) in url::form_urlencoded::parse(body).enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        push(&mut out, &key);
        out.push(b'=');
        push(&mut out, &value);
    }
    out
}

/// An AWS error answer (`<Error><Code>…</Code><Message>…</Message>`, XML of any AWS service),
/// as a sentence saying what the code means for a responder; `None` when the body is not one.
pub fn explain_refusal(body: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(body).ok()?;
    let error = doc.descendants().find(|n| n.has_tag_name("Error"))?;
    let text = |tag: &str| {
        error
            .children()
            .find(|n| n.has_tag_name(tag))
            .and_then(|n| n.text())
            .map(str::trim)
    };
    let code = text("Code")?;
    let hint = match code {
        "SignatureDoesNotMatch" => {
            "the signature does not match: the secret key is wrong for this access key (or the \
             target's region/service differs from the endpoint's)"
        }
        "InvalidClientTokenId" | "InvalidAccessKeyId" | "AuthFailure" => {
            "the access key is not known to this account: check the key id, or it was deleted"
        }
        "ExpiredToken" | "RequestExpired" | "RequestTimeTooSkewed" => {
            "the credentials or the request expired: refresh the session token, check the clock"
        }
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
            "the key is valid but not allowed to do this: check its IAM policy"
        }
        _ => "",
    };
    let message = text("Message")
        .filter(|m| !m.is_empty())
        .map(|m| format!(" ({m})"))
        .unwrap_or_default();
    let hint = if hint.is_empty() {
        String::new()
    } else {
        format!("; {hint}")
    };
    Some(format!("AWS refused it: {code}{message}{hint}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(access: Option<&str>, secret: Option<&str>) -> Fields {
        Fields {
            region: "us-east-1".into(),
            service: "iam".into(),
            access_key: access.map(Into::into),
            secret_key: secret.map(Into::into),
            session_token: None,
        }
    }

    fn request(method: &str, url: &str, body: &str) -> reqwest::Request {
        let mut req = reqwest::Request::new(method.parse().unwrap(), url.parse().unwrap());
        *req.body_mut() = Some(body.to_owned().into());
        req.headers_mut().insert(
            "content-type",
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        req
    }

    #[test]
    fn the_blocks_pair_wins_over_the_environment() {
        let env = |name: &str| Some(format!("env-{name}"));
        let signer = Signer::new("iam", fields(Some("AKIDBLOCK"), Some("s3cret")), env).unwrap();
        assert_eq!(signer.secrets(), ["AKIDBLOCK", "s3cret"]);
        let from_env = Signer::new("iam", fields(None, None), env).unwrap();
        assert_eq!(
            from_env.secrets(),
            [
                "env-AWS_ACCESS_KEY_ID",
                "env-AWS_SECRET_ACCESS_KEY",
                "env-AWS_SESSION_TOKEN"
            ]
        );
    }

    #[test]
    fn no_credentials_anywhere_is_a_clear_error() {
        let err = Signer::new("iam", fields(None, None), |_| None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "aws_sigv4 of target `iam` has no credentials: give `access_key` and `secret_key` \
             (from `{{ secrets.… }}`), or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        );
        let err = Signer::new("iam", fields(Some("AKID"), Some(" ")), |_| None).unwrap_err();
        assert!(
            err.to_string()
                .contains("`secret_key` renders to an empty value")
        );
    }

    /// AWS's documented example (IAM ListUsers, "Create a signed AWS API request"): the same
    /// request, key and time give the documented signature.
    #[test]
    fn signs_awss_documented_example() {
        let signer = Signer::new(
            "iam",
            Fields {
                region: "us-east-1".into(),
                service: "iam".into(),
                access_key: Some("AKIDEXAMPLE".into()),
                secret_key: Some("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into()),
                session_token: None,
            },
            |_| None,
        )
        .unwrap();
        let mut req = reqwest::Request::new(
            reqwest::Method::GET,
            "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08"
                .parse()
                .unwrap(),
        );
        req.headers_mut().insert(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8"
                .parse()
                .unwrap(),
        );
        // 20150830T123600Z
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_mins(24_015_636);
        let signature = signer.sign(&mut req, now).unwrap();
        assert_eq!(
            signature,
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
        let auth = req.headers()["authorization"].to_str().unwrap();
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
        assert_eq!(req.headers()["x-amz-date"], "20150830T123600Z");
    }

    #[test]
    fn the_body_is_signed() {
        let signer = Signer::new("iam", fields(Some("AKID"), Some("secret")), |_| None).unwrap();
        let now = SystemTime::UNIX_EPOCH;
        let a = signer
            .sign(&mut request("POST", "http://127.0.0.1/", "Action=A"), now)
            .unwrap();
        let b = signer
            .sign(&mut request("POST", "http://127.0.0.1/", "Action=B"), now)
            .unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn s3_requests_carry_the_payload_hash() {
        let mut f = fields(Some("AKID"), Some("secret"));
        f.service = "s3".into();
        let signer = Signer::new("s3", f, |_| None).unwrap();
        let mut req = request("PUT", "http://127.0.0.1:5000/bucket?publicAccessBlock", "");
        signer.sign(&mut req, SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(
            req.headers()["x-amz-content-sha256"],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn form_bodies_are_encoded_like_aws_sdks_do() {
        let body = b"Action=PutUserPolicy&PolicyDocument=%7B%22Action%22%3A%22*%22%7D&Note=a+b~c";
        assert_eq!(
            String::from_utf8(canonical_form(body)).unwrap(),
            "Action=PutUserPolicy&PolicyDocument=%7B%22Action%22%3A%22%2A%22%7D&Note=a+b~c"
        );
    }

    #[test]
    fn aws_error_answers_are_explained() {
        let body = r#"<?xml version="1.0"?><ErrorResponse><Error><Type>Sender</Type>
            <Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message>
            </Error></ErrorResponse>"#;
        let text = explain_refusal(body).unwrap();
        assert!(text.starts_with("AWS refused it: SignatureDoesNotMatch (The request signature"));
        assert!(text.contains("the secret key is wrong"));
        assert_eq!(explain_refusal("{\"error\":1}"), None);
    }
}
