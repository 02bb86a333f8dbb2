fn main() {
    for f in std::env::args().skip(1) {
        let b = std::fs::read(&f).unwrap();
        match imps_engine::codec::decode(&b, Default::default()) {
            Ok(m) => {
                let out = imps_engine::codec::encode(&m);
                println!("{}", String::from_utf8_lossy(&out));
                let m2 = imps_engine::codec::decode(&out, Default::default()).unwrap();
                assert_eq!(m, m2, "{f}");
            }
            Err(e) => println!("{f}: {e}"),
        }
    }
}
