//! `imgclass serve`: the arguments as the server's config, the URL and token printed once it
//! listens.

use std::process::ExitCode;

use anyhow::{Result, bail};
use imgclass_serve::config::ServeConfig;

use crate::args::ServeArgs;

/// The server's config from the arguments (library defaults for what they leave out).
pub fn config(a: &ServeArgs) -> Result<ServeConfig> {
    let mut c = ServeConfig::default();
    if let Some(root) = &a.root {
        c.root = root.clone();
    }
    c.model = a.model.clone();
    c.host = a.host.unwrap_or(c.host);
    c.port = a.port.unwrap_or(c.port);
    if let Some(mb) = a.max_upload_mb {
        if mb == 0 || mb > 4096 {
            bail!("--max-upload-mb must be 1 to 4096");
        }
        c.limits.body_bytes = mb << 20;
    }
    if let Some(p) = a.max_pixels {
        if p == 0 {
            bail!("--max-pixels must be at least 1");
        }
        c.limits.max_pixels = p;
    }
    Ok(c)
}

pub fn run(a: ServeArgs) -> Result<ExitCode> {
    let config = config(&a)?;
    imgclass_serve::serve(config, |state, url| {
        println!("{url}");
        if !state.config().is_loopback() {
            eprintln!(
                "imgclass: warning: listening on {}: other machines can reach this server and change the projects in {}",
                state.config().host,
                state.root().path().display()
            );
        }
        println!("projects: {}", state.root().path().display());
        println!("API token (header x-imgclass-token, for scripts): {}", state.token());
        println!("Ctrl-C stops the server.");
    })?;
    Ok(ExitCode::SUCCESS)
}
