//! Hunting with the SigmaHQ Windows rules over real attack samples (../shared/data): known
//! attacks must produce the hits of the SigmaHQ rules written for them.

use std::collections::BTreeSet;
use std::path::PathBuf;

mod correlation;

use vigil_hunt::{HuntOptions, Hunter, Report, collect_inputs, read_rules};

/// Sample files (under evtx-samples) and rule ids that must hit in each. A subset keeps the
/// debug-build test short; `vigil hunt` over the whole corpus is measured in BENCHMARKS.md.
const EXPECTED: &[(&str, &[&str])] = &[
    (
        "EVTX-to-MITRE-Attack/TA0003-Persistence/T1543.003-Create or Modify System Process-Windows Service/ID7045-New service for Mimikatz +npcap.evtx",
        &[
            // HackTool Service Registration or Execution
            "d26ce60c-2151-403c-9a42-49420d87b5e4",
            // Credential Dumping Tools Service Execution - System
            "4976aa50-8f41-45c6-8b15-ab3fc10e79ed",
            // Mimikatz Use (keywords)
            "06d71506-7beb-4f22-8888-e2e5e2ca7fd8",
        ],
    ),
    (
        "EVTX-to-MITRE-Attack/TA0003-Persistence/T1543.003-Create or Modify System Process-Windows Service/ID7045-7036 PSexec service installation.evtx",
        // PsExec Service Installation
        &["42c575ea-e41e-41f1-b248-8093c3e82a28"],
    ),
    (
        "DeepBlueCLI/metasploit-psexec-native-target-system.evtx",
        // Meterpreter or Cobalt Strike Getsystem Service Installation - System
        &["843544a7-56e0-4dcc-a44f-5cc266dd97d6"],
    ),
    (
        "EVTX-to-MITRE-Attack/TA0006-Credential Access/T1003-Credential dumping/ID10-Mimikatz LSASS process dump.evtx",
        // HackTool - Generic Process Access
        &["d0d2f720-d14f-448d-8242-51ff396a334e"],
    ),
    (
        "DeepBlueCLI/mimikatz-privesc-hashdump.evtx",
        // Security Eventlog Cleared
        &["d99b79d2-0a6f-4f46-ad8b-260b6e17f982"],
    ),
];

#[test]
fn sigmahq_windows_rules_find_known_attacks_in_evtx_samples() {
    let test = "sigmahq_windows_rules_find_known_attacks_in_evtx_samples";
    let Some(samples) = vigil_testkit::shared_data("evtx-samples", test) else {
        return;
    };
    let Some(rules_dir) = vigil_testkit::shared_data("sigma-rules/rules/windows", test) else {
        return;
    };
    let (sources, read_problems) = read_rules(&[rules_dir]);
    assert!(read_problems.is_empty(), "{read_problems:?}");
    assert!(sources.len() > 2_000, "{} rule files", sources.len());

    let files: Vec<PathBuf> = EXPECTED.iter().map(|(f, _)| samples.join(f)).collect();
    let (inputs, problems) = collect_inputs(&files);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(inputs.len(), EXPECTED.len());

    let hunter = Hunter::new(sources, HuntOptions::default());
    let compile_problems = hunter.prepare(&inputs);
    let errors: Vec<_> = compile_problems.iter().filter(|p| p.is_error()).collect();
    assert!(
        errors.len() * 200 <= hunter.rule_count(),
        "more than 0.5% of the rules fail: {errors:?}"
    );

    let mut found: BTreeSet<(String, String)> = BTreeSet::new();
    let mut input_problems = Vec::new();
    let summary = hunter.run(&inputs, &mut |r| match r {
        Report::Hit(h) => {
            assert!(h.host.is_some(), "{h:?}");
            assert!(h.time.is_some(), "{h:?}");
            assert!(h.record > 0, "{h:?}");
            if let Some(id) = &h.rule_id {
                found.insert((h.file.clone(), id.clone()));
            }
        }
        Report::Problem(p) => input_problems.push(p.clone()),
        Report::FileDone(_) | Report::RulesLoaded(_) => {}
    });
    assert!(input_problems.is_empty(), "{input_problems:?}");
    assert_eq!(summary.files, EXPECTED.len() as u64);
    for ((_, ids), path) in EXPECTED.iter().zip(&files) {
        let file = path.display().to_string();
        for id in *ids {
            assert!(
                found.contains(&(file.clone(), (*id).to_owned())),
                "rule {id} did not hit in {file}; hits: {found:?}"
            );
        }
    }
    // Service rules reach System events and keyword rules reach any Windows event; the
    // summary counts each hit once.
    assert_eq!(summary.hits, summary.by_level.values().sum::<u64>());
    assert_eq!(
        summary.hits,
        summary.by_rule.iter().map(|r| r.hits).sum::<u64>()
    );
}

/// The rules compiled while the files are read, with a backlog far smaller than the files:
/// the same hits as when they are compiled first, and the held events stay near the cap.
#[test]
fn compiling_while_reading_gives_the_same_hits_within_the_hold_cap() {
    let test = "compiling_while_reading_gives_the_same_hits_within_the_hold_cap";
    let Some(samples) = vigil_testkit::shared_data("evtx-samples/DeepBlueCLI", test) else {
        return;
    };
    let Some(rules_dir) = vigil_testkit::shared_data("sigma-rules/rules/windows", test) else {
        return;
    };
    let (sources, _) = read_rules(&[rules_dir]);
    let (inputs, problems) = collect_inputs(&[samples]);
    assert!(problems.is_empty(), "{problems:?}");
    let total: u64 = inputs.iter().map(|i| i.size).sum();
    assert!(total > 4 << 20, "{total} bytes of samples");

    let hits_of = |hunter: &Hunter| {
        let mut hits = BTreeSet::new();
        let mut loaded = 0;
        let summary = hunter.run(&inputs, &mut |r| match r {
            Report::Hit(h) => {
                hits.insert((
                    h.file.clone(),
                    h.record,
                    h.rule_id.clone(),
                    h.matched.clone(),
                ));
            }
            Report::RulesLoaded(_) => loaded += 1,
            _ => {}
        });
        (hits, summary, loaded)
    };
    let first = Hunter::new(sources.clone(), HuntOptions::default());
    first.prepare(&inputs);
    let (want, want_summary, loaded) = hits_of(&first);
    assert_eq!(loaded, 0);
    assert!(want.len() > 100, "{} hits", want.len());

    const CAP: usize = 1 << 20;
    let overlapped = Hunter::new(
        sources,
        HuntOptions {
            hold_bytes: Some(CAP),
            ..HuntOptions::default()
        },
    );
    let (got, summary, loaded) = hits_of(&overlapped);
    assert_eq!(loaded, 1);
    assert_eq!(got, want);
    assert_eq!(
        (
            summary.events,
            summary.hits,
            summary.files,
            &summary.by_rule
        ),
        (
            want_summary.events,
            want_summary.hits,
            want_summary.files,
            &want_summary.by_rule
        )
    );
    // Compiling 2,000 rules takes longer than parsing a record, so events were held, and
    // never more than the cap plus one event per worker.
    assert!(summary.held_peak_bytes > 0, "{summary:?}");
    assert!(
        summary.held_peak_bytes <= (CAP + 64 * 1024) as u64 * 2,
        "{} bytes held",
        summary.held_peak_bytes
    );
}
