//! `share=`: what an exclusive ClientInit (shared flag 0) does to the other clients, as in
//! QEMU: allow-exclusive (default) lets it drop the others and refuses shared clients while
//! it is there; force-shared drops the exclusive client instead; ignore ignores the flag.

use std::time::Duration;

use anyhow::{Result, ensure};
use porthole_tests::raw::ServerInit;
use porthole_tests::{AuthOutcome, RawRfb, Server};

const DROP_WAIT: Duration = Duration::from_secs(3);
const STAY_WAIT: Duration = Duration::from_millis(300);

/// Connects with the given ClientInit shared flag. `Ok(None)` if the server closed the
/// connection instead of sending ServerInit.
fn connect(server: &Server, shared: bool) -> Result<Option<(RawRfb, ServerInit)>> {
    let mut c = RawRfb::connect(server.port)?;
    c.exchange_versions(8)?;
    ensure!(
        c.authenticate(None)? == AuthOutcome::Accepted,
        "not accepted"
    );
    Ok(c.init(shared).ok().map(|init| (c, init)))
}

#[test]
fn allow_exclusive_drops_the_others() -> Result<()> {
    let server = Server::start("")?;
    let (mut a, _) = connect(&server, true)?.expect("shared client A");
    let (mut b, _) = connect(&server, false)?.expect("exclusive client B");
    ensure!(
        a.closed_within(DROP_WAIT)?,
        "shared A stayed after exclusive B arrived"
    );
    ensure!(!b.closed_within(STAY_WAIT)?, "exclusive B was dropped");
    // While B is exclusive, a shared client is refused.
    match connect(&server, true)? {
        None => {}
        Some((mut c, _)) => ensure!(
            c.closed_within(DROP_WAIT)?,
            "shared C admitted next to exclusive B"
        ),
    }
    ensure!(!b.closed_within(STAY_WAIT)?, "exclusive B was dropped by C");
    Ok(())
}

#[test]
fn force_shared_drops_the_exclusive_client() -> Result<()> {
    let server = Server::start(",share=force-shared")?;
    let (mut a, _) = connect(&server, true)?.expect("shared client A");
    match connect(&server, false)? {
        None => {}
        Some((mut b, _)) => ensure!(
            b.closed_within(DROP_WAIT)?,
            "exclusive B admitted under force-shared"
        ),
    }
    ensure!(!a.closed_within(STAY_WAIT)?, "shared A was dropped");
    Ok(())
}

#[test]
fn ignore_keeps_everyone() -> Result<()> {
    let server = Server::start(",share=ignore")?;
    let (mut a, _) = connect(&server, true)?.expect("shared client A");
    let (mut b, _) = connect(&server, false)?.expect("exclusive client B");
    let (mut c, _) = connect(&server, true)?.expect("shared client C");
    for (name, client) in [("A", &mut a), ("B", &mut b), ("C", &mut c)] {
        ensure!(
            !client.closed_within(STAY_WAIT)?,
            "client {name} was dropped under share=ignore"
        );
    }
    Ok(())
}
