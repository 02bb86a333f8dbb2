//! Codec and engine benchmarks (criterion): decode+encode of every libwbxml sample, and a
//! KeepAlive transaction through the native server engine (XML in, XML out).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

mod support;

use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use imps_engine::codec::{self, Limits};

fn samples() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/libwbxml-wv11");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

fn decode_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_encode");
    let all = samples();
    let total: usize = all.iter().map(|(_, b)| b.len()).sum();
    group.throughput(Throughput::Bytes(total as u64));
    group.bench_function("all_libwbxml_samples", |b| {
        b.iter(|| {
            for (_, bytes) in &all {
                let m = codec::decode(std::hint::black_box(bytes), Limits::default()).unwrap();
                std::hint::black_box(codec::encode(&m));
            }
        })
    });
    // Every sample on its own, briefly (78 of them): the per-message figure.
    group.warm_up_time(std::time::Duration::from_millis(200));
    group.measurement_time(std::time::Duration::from_millis(600));
    for (name, bytes) in &all {
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), bytes, |b, bytes| {
            b.iter(|| {
                let m = codec::decode(std::hint::black_box(bytes), Limits::default()).unwrap();
                std::hint::black_box(codec::encode(&m))
            })
        });
    }
    group.finish();
}

fn keep_alive(c: &mut Criterion) {
    let (mut server, bodies) = support::keep_alive_setup();
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    let mut now = 1u64;
    group.bench_function("keepalive_transaction", |b| {
        b.iter(|| {
            i = (i + 1) % bodies.len();
            now += 1;
            server.handle(now, support::request(i as u64, bodies[i].clone()));
            while let Some(o) = server.poll_output() {
                std::hint::black_box(o);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, decode_encode, keep_alive);
criterion_main!(benches);
