//! `stanch lab`: the drill lab alone, for drills with curl, scripts or other tools.
//!
//! Prints where everything listens, the profile (`--es-version`, `--security`), the
//! credentials (deliberately: this is a lab, and the point is to paste them), and
//! ready-to-paste curl commands; then serves until Ctrl-C.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::lab::{Lab, LabOptions, Profile};

pub fn run(args: &super::LabArgs) -> anyhow::Result<ExitCode> {
    let options = LabOptions {
        profile: Profile {
            version: args.es_version,
            security: args.security,
        },
        ..LabOptions::default()
    };
    let lab = Lab::start_with(args.seed, args.port, &options).context("starting the lab")?;
    let mut out = std::io::stdout().lock();
    write_banner(&mut out, &lab, args.seed)?;
    out.flush()?;
    drop(out);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting a runtime to wait for Ctrl-C")?;
    runtime
        .block_on(tokio::signal::ctrl_c())
        .context("waiting for Ctrl-C")?;
    lab.shutdown();
    eprintln!("lab stopped");
    Ok(crate::cli::exit::code(crate::cli::exit::SUCCESS))
}

/// What `stanch lab` prints: URLs, credentials, env lines for the bundled runbook, and curl.
pub fn write_banner(out: &mut dyn Write, lab: &Lab, seed: u64) -> std::io::Result<()> {
    let urls = lab.urls();
    let c = lab.credentials();
    writeln!(
        out,
        "stanch drill lab (seed {seed}, {}), listening on 127.0.0.1 until Ctrl-C",
        lab.profile()
    )?;
    writeln!(out)?;
    let profile = lab.profile();
    writeln!(
        out,
        "  es     {}   Elasticsearch {}, security {}; index `customers` readable anonymously",
        urls.es, profile.version, profile.security
    )?;
    let issuer = format!("{}{}", urls.auth, crate::lab::oauth::ISSUER_PATH);
    writeln!(
        out,
        "  auth   {}   OAuth 2.0 issuer {issuer} (discovery: {issuer}/.well-known/openid-configuration); operator list /admin/clients/{{id}}/tokens",
        urls.auth
    )?;
    writeln!(
        out,
        "  comms  {}   forum /forum/posts, chat webhook /hooks/status",
        urls.comms
    )?;
    writeln!(out)?;
    writeln!(out, "Credentials (synthetic, deterministic from the seed):")?;
    writeln!(
        out,
        "  Elasticsearch API key   {} (id {})",
        c.es_api_key, c.es_api_key_id
    )?;
    writeln!(
        out,
        "  OAuth responder client  {} / {}",
        c.oauth_client_id, c.oauth_client_secret
    )?;
    writeln!(out, "  forum bearer token      {}", c.forum_token)?;
    for (id, secret) in &c.clients {
        writeln!(out, "  OAuth client            {id} / {secret}")?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "For the bundled runbook (stanch run … --set es_url=… ):"
    )?;
    writeln!(out, "  export STANCH_ES_API_KEY='{}'", c.es_api_key)?;
    writeln!(
        out,
        "  export STANCH_OAUTH_SECRET='{}'",
        c.oauth_client_secret
    )?;
    writeln!(out, "  export STANCH_FORUM_TOKEN='{}'", c.forum_token)?;
    for (id, secret) in &c.clients {
        let var = match id.as_str() {
            "alexa-skill" => "ALEXA",
            "google-assistant" => "GOOGLE",
            _ => "IFTTT",
        };
        writeln!(out, "  export STANCH_{var}_CLIENT_SECRET='{secret}'")?;
    }
    writeln!(
        out,
        "  --set es_url={} --set auth_url={} --set issuer={issuer} --set forum_url={} --set status_webhook_url={}/hooks/status",
        urls.es, urls.auth, urls.comms, urls.comms
    )?;
    writeln!(out)?;
    writeln!(out, "Try:")?;
    writeln!(out, "  curl -s '{}/_cat/indices?format=json'", urls.es)?;
    writeln!(out, "  curl -s {}/customers/_count", urls.es)?;
    writeln!(out, "  curl -s '{}/customers/_search?size=2'", urls.es)?;
    writeln!(
        out,
        "  curl -s -X POST -H 'Authorization: ApiKey {}' {}/customers/_close",
        c.es_api_key, urls.es
    )?;
    writeln!(
        out,
        "  curl -s -u {}:{} '{}/admin/clients/alexa-skill/tokens?token_type=refresh_token'",
        c.oauth_client_id, c.oauth_client_secret, urls.auth
    )?;
    if let Some((id, secret)) = c.clients.first() {
        writeln!(
            out,
            "  curl -s -u {id}:{secret} -d token=TOKEN {issuer}/protocol/openid-connect/revoke"
        )?;
        writeln!(
            out,
            "  curl -s -u {id}:{secret} -d token=TOKEN {issuer}/protocol/openid-connect/token/introspect"
        )?;
    }
    writeln!(
        out,
        "  curl -s -H 'Authorization: Bearer {}' -H 'Content-Type: application/json' -d '{{\"title\":\"Security notice\",\"body\":\"…\"}}' {}/forum/posts",
        c.forum_token, urls.comms
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_names_every_service_and_credential() {
        let lab = Lab::start(5, 0).unwrap();
        let mut out = Vec::new();
        write_banner(&mut out, &lab, 5).unwrap();
        let text = String::from_utf8(out).unwrap();
        for needle in [
            lab.urls().es.as_str(),
            lab.urls().auth.as_str(),
            lab.urls().comms.as_str(),
            lab.credentials().es_api_key.as_str(),
            lab.credentials().oauth_client_secret.as_str(),
            lab.credentials().forum_token.as_str(),
            "Elasticsearch 7.4.2, security off",
            "/realms/lab/.well-known/openid-configuration",
            "STANCH_ALEXA_CLIENT_SECRET",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
        lab.shutdown();
    }
}
