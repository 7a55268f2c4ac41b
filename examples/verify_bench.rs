//! Lock-verification benchmark: `tflock::verify::verify` against a naive baseline
//! (one consistent GetItem of the lock item and one HeadObject of the lockfile per
//! state), side by side in one process, against the same S3/DynamoDB endpoint.
//!
//! Run by `scripts/bench-verify.sh`, which starts the moto emulator, seeds the
//! bucket and table in Terraform's format and points the SDK at it with
//! `AWS_ENDPOINT_URL`, `AWS_REGION` and dummy credentials:
//!
//! ```text
//! cargo run --release --example verify_bench -- \
//!     --bucket B --table T --region us-east-1 --states 1000 --runs 5 --concurrency 16
//! ```
//!
//! Targets are built the way the CLI builds them for `key = "svc-<i>/terraform.tfstate"`
//! (default `workspace_key_prefix`, probe on); the baseline checks exactly the
//! states the tool reported (so it is told about workspaces for free).

use std::sync::Arc;
use std::time::{Duration, Instant};
use tflock::verify::{ClientSettings, Options, RequestCounter, Target, verify};
use tokio::sync::Semaphore;

struct Args {
    bucket: String,
    table: String,
    region: String,
    states: usize,
    runs: usize,
    concurrency: usize,
    sequential: bool,
}

fn args() -> Args {
    let mut a = Args {
        bucket: "tflock-bench".into(),
        table: "tflock-bench-locks".into(),
        region: "us-east-1".into(),
        states: 1000,
        runs: 5,
        concurrency: 16,
        sequential: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--bucket" => a.bucket = value(),
            "--table" => a.table = value(),
            "--region" => a.region = value(),
            "--states" => a.states = value().parse().expect("--states N"),
            "--runs" => a.runs = value().parse().expect("--runs N"),
            "--concurrency" => a.concurrency = value().parse().expect("--concurrency N"),
            "--no-sequential" => a.sequential = false,
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn targets(a: &Args) -> Vec<Target> {
    let client = ClientSettings {
        region: Some(a.region.clone()),
        ..ClientSettings::default()
    };
    (0..a.states)
        .map(|i| Target {
            bucket: Some(a.bucket.clone()),
            keys: vec![(None, format!("svc-{i}/terraform.tfstate"))],
            unknown_key_prefix: None,
            workspace_key_prefix: "env:".into(),
            table: Some(a.table.clone()),
            client: client.clone(),
            probe: true,
            dir: format!("svc-{i}"),
            unknown: Vec::new(),
            unit: None,
        })
        .collect()
}

struct Run {
    elapsed: Duration,
    /// CPU time of this process (all threads) during the run.
    cpu: Duration,
    requests: usize,
    states: usize,
    not_free: usize,
}

async fn run_tool(a: &Args, targets: &[Target]) -> (Run, Vec<String>) {
    // As `tflock plan` checks: lock items only (the naive baseline reads no
    // digests either; `apply` also reads them for its rollback file).
    let options = Options {
        concurrency: a.concurrency,
        read_digests: false,
        ..Options::default()
    };
    let counter = Arc::new(RequestCounter::default());
    let cpu_start = cpu_time();
    let start = Instant::now();
    let result = verify(targets, &options, counter.clone()).await;
    let elapsed = start.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_start);
    let mut keys = Vec::new();
    let mut not_free = 0;
    for backend in &result {
        if backend.blocked() {
            not_free += 1;
            eprintln!("tool: blocked: {:?}", backend.blockers);
        }
        for s in &backend.states {
            keys.push(s.state_key.clone());
        }
    }
    let run = Run {
        elapsed,
        cpu,
        requests: counter.get(),
        states: keys.len(),
        not_free,
    };
    (run, keys)
}

#[derive(Clone)]
struct Naive {
    s3: aws_sdk_s3::Client,
    dynamodb: aws_sdk_dynamodb::Client,
}

async fn naive_clients(a: &Args) -> Naive {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(a.region.clone()))
        .load()
        .await;
    let s3 = aws_sdk_s3::config::Builder::from(&config)
        .force_path_style(true)
        .build();
    Naive {
        s3: aws_sdk_s3::Client::from_conf(s3),
        dynamodb: aws_sdk_dynamodb::Client::new(&config),
    }
}

/// One request of the baseline; `true` when it found a lock or could not tell.
async fn naive_request(c: &Naive, a: &Args, key: &str, dynamodb: bool) -> bool {
    if dynamodb {
        let out = c
            .dynamodb
            .get_item()
            .table_name(&a.table)
            .key(
                "LockID",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("{}/{key}", a.bucket)),
            )
            .consistent_read(true)
            .send()
            .await;
        match out {
            Ok(o) => o.item().is_some_and(|i| i.contains_key("Info")),
            Err(_) => true,
        }
    } else {
        let out =
            c.s3.head_object()
                .bucket(&a.bucket)
                .key(format!("{key}.tflock"))
                .send()
                .await;
        match out {
            Ok(_) => true,
            Err(e) => !e.as_service_error().is_some_and(|e| e.is_not_found()),
        }
    }
}

/// The baseline: clients built inside the timing, like the tool's.
async fn run_naive(a: &Arc<Args>, keys: &Arc<Vec<String>>, concurrency: usize) -> Run {
    let counter = Arc::new(RequestCounter::default());
    let cpu_start = cpu_time();
    let start = Instant::now();
    let clients = naive_clients(a).await;
    let mut not_free = 0;
    if concurrency <= 1 {
        for key in keys.iter() {
            for dynamodb in [true, false] {
                counter.add();
                not_free += naive_request(&clients, a, key, dynamodb).await as usize;
            }
        }
    } else {
        let permits = Arc::new(Semaphore::new(concurrency));
        let mut set = tokio::task::JoinSet::new();
        for i in 0..keys.len() {
            for dynamodb in [true, false] {
                let (a, keys, clients, permits, counter) = (
                    a.clone(),
                    keys.clone(),
                    clients.clone(),
                    permits.clone(),
                    counter.clone(),
                );
                set.spawn(async move {
                    let _permit = permits.acquire().await.expect("semaphore");
                    counter.add();
                    naive_request(&clients, &a, &keys[i], dynamodb).await
                });
            }
        }
        while let Some(r) = set.join_next().await {
            not_free += r.expect("task") as usize;
        }
    }
    Run {
        elapsed: start.elapsed(),
        cpu: cpu_time().saturating_sub(cpu_start),
        requests: counter.get(),
        states: keys.len(),
        not_free,
    }
}

/// Times, with plain SDK clients, the requests the tool's plan is made of, so the
/// report can say where its wall time goes: the Scan (all pages), the whole-bucket
/// ListObjectsV2 (all pages), the probe, one GetItem and one HeadObject.
async fn breakdown(a: &Args, keys: &[String]) {
    let c = naive_clients(a).await;
    let reps = 5;
    let mut scan = Vec::new();
    let mut list = Vec::new();
    let mut probe = Vec::new();
    let mut pages = (0, 0);
    for _ in 0..reps {
        let start = Instant::now();
        let mut token = None;
        let mut n = 0;
        loop {
            let page = c
                .dynamodb
                .scan()
                .table_name(&a.table)
                .filter_expression("attribute_exists(#info) OR attribute_exists(#digest)")
                .projection_expression("#id, #info, #digest")
                .expression_attribute_names("#id", "LockID")
                .expression_attribute_names("#info", "Info")
                .expression_attribute_names("#digest", "Digest")
                .consistent_read(true)
                .set_exclusive_start_key(token.take())
                .send()
                .await
                .expect("scan");
            n += 1;
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => token = Some(k.clone()),
                _ => break,
            }
        }
        scan.push(start.elapsed());
        pages.0 = n;
        let start = Instant::now();
        let mut token = None;
        let mut n = 0;
        loop {
            let page =
                c.s3.list_objects_v2()
                    .bucket(&a.bucket)
                    .prefix("")
                    .set_continuation_token(token.take())
                    .send()
                    .await
                    .expect("list");
            n += 1;
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => break,
            }
        }
        list.push(start.elapsed());
        pages.1 = n;
        let start = Instant::now();
        let key = "svc-0/terraform.tfstate.tflock-probe-bench";
        let put = || {
            c.s3.put_object()
                .bucket(&a.bucket)
                .key(key)
                .if_none_match("*")
                .body(aws_sdk_s3::primitives::ByteStream::from_static(b"probe"))
                .send()
        };
        put().await.expect("probe put");
        let _ = put().await;
        c.s3.delete_object()
            .bucket(&a.bucket)
            .key(key)
            .send()
            .await
            .expect("probe delete");
        probe.push(start.elapsed());
    }
    // The Scan as issue 3 words it (locks only, no digest items), for comparison.
    let mut scan_locks_only = Vec::new();
    for _ in 0..reps {
        let start = Instant::now();
        c.dynamodb
            .scan()
            .table_name(&a.table)
            .filter_expression("attribute_exists(#info)")
            .projection_expression("#id, #info")
            .expression_attribute_names("#id", "LockID")
            .expression_attribute_names("#info", "Info")
            .consistent_read(true)
            .send()
            .await
            .expect("scan");
        scan_locks_only.push(start.elapsed());
    }
    let mut get = Vec::new();
    let mut head = Vec::new();
    for key in keys.iter().take(50) {
        let start = Instant::now();
        naive_request(&c, a, key, true).await;
        get.push(start.elapsed());
        let start = Instant::now();
        naive_request(&c, a, key, false).await;
        head.push(start.elapsed());
    }
    println!(
        "emulator time per request shape (median, plain SDK client, sequential): \
         Scan {} page(s) {} ms (locks only, no digests: {} ms); ListObjectsV2 whole bucket {} page(s) {} ms; \
         probe (put, put, delete) {} ms; one GetItem {} ms; one HeadObject {} ms",
        pages.0,
        ms(median(scan)),
        ms(median(scan_locks_only)),
        pages.1,
        ms(median(list)),
        ms(median(probe)),
        ms(median(get)),
        ms(median(head)),
    );
}

/// User + system CPU time of this process so far (Linux; zero elsewhere).
fn cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // USER_HZ is 100 on Linux.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let a = Arc::new(args());
    let targets = targets(&a);
    eprintln!(
        "verify_bench: {} targets, bucket {}, table {}, {} runs, concurrency {}, endpoint {}",
        targets.len(),
        a.bucket,
        a.table,
        a.runs,
        a.concurrency,
        std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "(AWS)".into())
    );

    // Warm-up (emulator and connection set-up), not timed; also learns the states.
    let (warm, keys) = run_tool(&a, &targets).await;
    let keys = Arc::new(keys);
    run_naive(&a, &keys, a.concurrency).await;

    let mut tool = Vec::new();
    let mut naive = Vec::new();
    let mut sequential = Vec::new();
    for i in 0..a.runs {
        // Interleaved, so drift in the emulator hits every contender alike.
        let (t, _) = run_tool(&a, &targets).await;
        let n = run_naive(&a, &keys, a.concurrency).await;
        eprintln!(
            "run {}: tool {} ms ({} requests), naive/{} {} ms ({} requests)",
            i + 1,
            ms(t.elapsed),
            t.requests,
            a.concurrency,
            ms(n.elapsed),
            n.requests
        );
        tool.push(t);
        naive.push(n);
        if a.sequential {
            let s = run_naive(&a, &keys, 1).await;
            eprintln!(
                "run {}: naive sequential {} ms ({} requests)",
                i + 1,
                ms(s.elapsed),
                s.requests
            );
            sequential.push(s);
        }
    }

    let summarize = |runs: &[Run]| {
        let requests: Vec<usize> = runs.iter().map(|r| r.requests).collect();
        let not_free = runs.iter().map(|r| r.not_free).max().unwrap_or(0);
        let states = runs.first().map(|r| r.states).unwrap_or(0);
        (
            median(runs.iter().map(|r| r.elapsed).collect()),
            requests,
            states,
            not_free,
        )
    };
    let (tool_med, tool_req, tool_states, tool_bad) = summarize(&tool);
    let (naive_med, naive_req, naive_states, naive_bad) = summarize(&naive);
    let ratio = naive_med.as_secs_f64() / tool_med.as_secs_f64();
    let probe_requests = if Options::default().skip_probe { 0 } else { 3 };

    println!(
        "| contender | states | AWS requests | median wall time (ms) | runs (ms) | median client CPU (ms) | vs. tool |"
    );
    println!("| --- | ---: | ---: | ---: | --- | ---: | ---: |");
    let row = |name: &str, runs: &[Run], states: usize, req: &[usize], med: Duration| {
        let all: Vec<String> = runs.iter().map(|r| ms(r.elapsed)).collect();
        let mut reqs = req.to_vec();
        reqs.dedup();
        let reqs: Vec<String> = reqs.iter().map(|r| r.to_string()).collect();
        let cpu = median(runs.iter().map(|r| r.cpu).collect());
        println!(
            "| {name} | {states} | {} | {} | {} | {} | {:.1}x |",
            reqs.join("/"),
            ms(med),
            all.join(", "),
            ms(cpu).trim_end_matches(".0"),
            med.as_secs_f64() / tool_med.as_secs_f64()
        );
    };
    row(
        "`tflock::verify::verify` (1 probe, concurrency bound 16)",
        &tool,
        tool_states,
        &tool_req,
        tool_med,
    );
    row(
        &format!(
            "naive: GetItem + HeadObject per state, {} in flight",
            a.concurrency
        ),
        &naive,
        naive_states,
        &naive_req,
        naive_med,
    );
    if a.sequential {
        let (seq_med, seq_req, seq_states, _) = summarize(&sequential);
        row(
            "naive: GetItem + HeadObject per state, sequential",
            &sequential,
            seq_states,
            &seq_req,
            seq_med,
        );
    }

    println!();
    breakdown(&a, &keys).await;
    let max_tool_requests = tool_req.iter().copied().max().unwrap_or(0);
    let request_target = 10 + probe_requests;
    println!();
    println!(
        "states verified: {tool_states} (tool), {naive_states} (naive); not free: {tool_bad} (tool), {naive_bad} (naive)"
    );
    println!(
        "warm-up run: {} requests, {} ms",
        warm.requests,
        ms(warm.elapsed)
    );
    println!(
        "target requests <= 10 + {probe_requests} (one probe): {} ({max_tool_requests})",
        if max_tool_requests <= request_target {
            "HOLDS"
        } else {
            "FAILS"
        }
    );
    println!(
        "target >= 10x faster than naive ({} in flight): {} ({ratio:.1}x)",
        a.concurrency,
        if ratio >= 10.0 { "HOLDS" } else { "FAILS" }
    );
    if tool_bad > 0 || naive_bad > 0 || tool_states != naive_states {
        eprintln!("verify_bench: unexpected results (locks found or state counts differ)");
        std::process::exit(1);
    }
}
