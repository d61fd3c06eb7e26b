//! The [`TriggerStore`] contract every trigger store runs (SQLite,
//! Firestore on the emulator); built for tests only.

use baton_model::Label;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::schedule::*;

/// The [`TriggerStore`] contract: exactly-once tick claims (also under
/// concurrent claims), compare-and-swap replacement, trigger state, and
/// backfills with state transitions that never clobber progress.
///
/// # Panics
/// When the store breaks the contract.
pub async fn trigger_store_contract(store: &dyn TriggerStore) {
    use chrono::TimeDelta;

    let run = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    let ns = format!("contract.t{run}");
    let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_default();
    let key = |trigger: &str, date: DateTime<Utc>| TickKey {
        namespace: ns.clone(),
        flow_id: "flow".into(),
        trigger_id: trigger.into(),
        date,
    };

    // ticks
    let k = key("daily", now);
    assert_eq!(store.tick(&k).await.expect("tick"), None);
    assert_eq!(store.claim_tick(&k, "e1").await.expect("claim"), TickClaim::Created);
    let existing = TickClaim::Existing { execution_id: "e1".into() };
    assert_eq!(store.claim_tick(&k, "e2").await.expect("claim"), existing, "a duplicate tick");
    assert_eq!(store.claim_tick(&k, "e1").await.expect("claim"), existing, "the same claim again");
    assert_eq!(store.tick(&k).await.expect("tick"), Some("e1".into()));
    let other_date = key("daily", now + TimeDelta::days(1));
    let other_trigger = key("hourly", now);
    assert_eq!(store.claim_tick(&other_date, "e3").await.expect("claim"), TickClaim::Created, "dates are keys");
    assert_eq!(store.claim_tick(&other_trigger, "e4").await.expect("claim"), TickClaim::Created, "triggers too");
    assert_eq!(k.id(), format!("{ns}.flow.daily.{}", now.to_rfc3339_opts(SecondsFormat::Secs, true)));

    assert!(!store.replace_tick(&k, "e9", "e5").await.expect("replace"), "a stale replace changes nothing");
    assert_eq!(store.tick(&k).await.expect("tick"), Some("e1".into()));
    assert!(store.replace_tick(&k, "e1", "e5").await.expect("replace"));
    assert_eq!(store.claim_tick(&k, "e6").await.expect("claim"), TickClaim::Existing { execution_id: "e5".into() });
    assert!(!store.replace_tick(&key("absent", now), "e1", "e2").await.expect("replace"), "no tick, no replace");

    // concurrent claims of one tick: exactly one wins, all agree on the winner
    let contested = key("contested", now);
    let claims = futures::future::join_all((0..16).map(|i| {
        let contested = contested.clone();
        async move { (i, store.claim_tick(&contested, &format!("c{i}")).await.expect("claim")) }
    }))
    .await;
    let winners: Vec<usize> = claims.iter().filter(|(_, c)| *c == TickClaim::Created).map(|(i, _)| *i).collect();
    assert_eq!(winners.len(), 1, "exactly one concurrent claim creates the tick");
    let winner = format!("c{}", winners[0]);
    for (_, c) in &claims {
        if let TickClaim::Existing { execution_id } = c {
            assert_eq!(*execution_id, winner);
        }
    }

    // trigger state
    let tk = TriggerKey { namespace: ns.clone(), flow_id: "flow".into(), trigger_id: "daily".into() };
    assert_eq!(store.load_trigger_state(&tk).await.expect("load"), None);
    let mut st = TriggerState {
        key: tk.clone(),
        last_tick: None,
        next_tick: Some(now),
        last_execution_id: None,
        stopped: None,
        schedule: Some("0 9 * * * UTC".into()),
        updated: now,
    };
    store.save_trigger_state(&st).await.expect("save");
    assert_eq!(store.load_trigger_state(&tk).await.expect("load"), Some(st.clone()));
    st.last_tick = Some(now);
    st.next_tick = Some(now + TimeDelta::days(1));
    st.last_execution_id = Some("e1".into());
    st.stopped = Some(Stopped { reason: "execution e1 ended FAILED".into(), flow_hash: "abc".into() });
    store.save_trigger_state(&st).await.expect("save again");
    assert_eq!(store.load_trigger_state(&tk).await.expect("load"), Some(st.clone()), "a save replaces");
    let other = TriggerKey { trigger_id: "hourly".into(), ..tk.clone() };
    assert_eq!(store.load_trigger_state(&other).await.expect("load"), None);

    // backfills
    let backfill = |id: &str, created: DateTime<Utc>| Backfill {
        id: id.to_string(),
        namespace: ns.clone(),
        flow_id: "flow".into(),
        trigger_id: "daily".into(),
        start: now - TimeDelta::days(30),
        end: now,
        inputs: Map::from_iter([("taxi".to_string(), Value::String("yellow".into()))]),
        labels: vec![Label { key: "backfill".into(), value: "true".into() }],
        rerun_successful: false,
        state: BackfillState::Running,
        progress: BackfillProgress { total: 30, ..BackfillProgress::default() },
        created,
        updated: created,
    };
    let (a_id, b_id) = (format!("{run}-a"), format!("{run}-b"));
    let a = backfill(&a_id, now - TimeDelta::minutes(2));
    let b = backfill(&b_id, now - TimeDelta::minutes(1));
    store.create_backfill(&a).await.expect("create");
    store.create_backfill(&b).await.expect("create");
    assert!(store.create_backfill(&a).await.is_err(), "creating an existing backfill id must fail");
    assert_eq!(store.load_backfill(&a_id).await.expect("load"), Some(a.clone()));
    assert_eq!(store.load_backfill("absent-backfill").await.expect("load"), None);
    let ours =
        |list: Vec<Backfill>| -> Vec<String> { list.into_iter().filter(|x| x.namespace == ns).map(|x| x.id).collect() };
    assert_eq!(ours(store.list_backfills(None).await.expect("list")), [b_id.clone(), a_id.clone()], "newest first");

    let progress = BackfillProgress {
        cursor: Some(now - TimeDelta::days(20)),
        total: 30,
        launched: 9,
        skipped: 1,
        conditions_false: 0,
        succeeded: 8,
        failed: 1,
        execution_ids: vec!["x1".into(), "x2".into()],
        ticks: std::collections::BTreeMap::from([(
            now - TimeDelta::days(20),
            BackfillTick {
                execution_id: Some("x2".into()),
                launched: true,
                skipped: false,
                ended: Some(baton_model::StateType::Failed),
                error: None,
                condition_false: None,
            },
        )]),
        folded: FoldedTicks::default(),
        error: None,
    };
    store.save_backfill_progress(&a_id, &progress).await.expect("progress");
    let paused = store
        .transition_backfill(&a_id, &[BackfillState::Running], BackfillState::Paused)
        .await
        .expect("pause")
        .expect("exists");
    assert_eq!(paused.state, BackfillState::Paused);
    assert_eq!(paused.progress, progress, "a state change keeps the progress");
    let again = store
        .transition_backfill(&a_id, &[BackfillState::Running], BackfillState::Success)
        .await
        .expect("transition")
        .expect("exists");
    assert_eq!(again.state, BackfillState::Paused, "a transition from another state changes nothing");
    store.save_backfill_progress(&a_id, &BackfillProgress { launched: 10, ..progress.clone() }).await.expect("p");
    let loaded = store.load_backfill(&a_id).await.expect("load").expect("exists");
    assert_eq!((loaded.state, loaded.progress.launched), (BackfillState::Paused, 10), "progress keeps the state");
    assert!(loaded.updated >= a.updated);
    assert_eq!(
        store
            .transition_backfill("absent-backfill", &[BackfillState::Running], BackfillState::Paused)
            .await
            .expect("t"),
        None
    );
    let paused_only = ours(store.list_backfills(Some(BackfillState::Paused)).await.expect("list"));
    assert_eq!(paused_only, std::slice::from_ref(&a_id));
    let running_only = ours(store.list_backfills(Some(BackfillState::Running)).await.expect("list"));
    assert_eq!(running_only, std::slice::from_ref(&b_id));
}
