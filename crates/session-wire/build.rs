//! Compiles the `.proto` files in `proto/` with protox (a pure-Rust protobuf compiler, so no
//! system `protoc` is needed) and generates the prost types into `OUT_DIR`.

use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let files = [
        "proto/SessionProtos.proto",
        "proto/WebSocketResources.proto",
    ];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let descriptors = protox::compile(files, ["proto"])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
