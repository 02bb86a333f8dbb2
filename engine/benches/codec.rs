//! Codec and engine benchmarks (criterion): decode+encode of every libwbxml sample, the same
//! in XML and in WBXML (per message, and bytes on the wire per message), and a KeepAlive
//! transaction through the native server engine (XML in, XML out).
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

/// XML against WBXML over all libwbxml samples, each in our own encoding of it (the bytes a
/// server writes): decode+encode per message, and the mean bytes per message (printed).
fn wbxml_vs_xml(c: &mut Criterion) {
    let messages: Vec<_> = samples()
        .iter()
        .map(|(_, b)| codec::decode(b, Limits::default()).unwrap())
        .collect();
    let xml: Vec<Vec<u8>> = messages.iter().map(codec::encode).collect();
    let wbxml: Vec<Vec<u8>> = messages.iter().map(codec::encode_wbxml).collect();
    let mean = |v: &[Vec<u8>]| v.iter().map(Vec::len).sum::<usize>() as f64 / v.len() as f64;
    eprintln!(
        "bytes per message over {} samples: XML {:.0}, WBXML {:.0} ({:.0} %)",
        messages.len(),
        mean(&xml),
        mean(&wbxml),
        100.0 * mean(&wbxml) / mean(&xml)
    );
    let mut group = c.benchmark_group("wbxml_vs_xml");
    group.throughput(Throughput::Elements(messages.len() as u64));
    group.bench_function("xml_decode_encode", |b| {
        b.iter(|| {
            for bytes in &xml {
                let m = codec::decode(std::hint::black_box(bytes), Limits::default()).unwrap();
                std::hint::black_box(codec::encode(&m));
            }
        })
    });
    group.bench_function("wbxml_decode_encode", |b| {
        b.iter(|| {
            for bytes in &wbxml {
                let m =
                    codec::decode_wbxml(std::hint::black_box(bytes), Limits::default()).unwrap();
                std::hint::black_box(codec::encode_wbxml(&m));
            }
        })
    });
    group.bench_function("wbxml_decode", |b| {
        b.iter(|| {
            for bytes in &wbxml {
                std::hint::black_box(
                    codec::decode_wbxml(std::hint::black_box(bytes), Limits::default()).unwrap(),
                );
            }
        })
    });
    group.bench_function("wbxml_encode", |b| {
        b.iter(|| {
            for m in &messages {
                std::hint::black_box(codec::encode_wbxml(std::hint::black_box(m)));
            }
        })
    });
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

criterion_group!(benches, decode_encode, wbxml_vs_xml, keep_alive);
criterion_main!(benches);
