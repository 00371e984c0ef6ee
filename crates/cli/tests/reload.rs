//! What needs the `aws` feature, in both builds: without it `reload` and the replay of a
//! custom-resource request name the feature to build with; with it, `reload` reaches S3 (the emulator `scripts/test` starts, through `AWS_ENDPOINT_URL`)
//! and names the bucket it could not list.

use std::process::{Command, Output};

fn reload(bucket: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_connect-wfm"))
        .args([
            "reload",
            "--bucket",
            bucket,
            "--prefix",
            "connect/acme/Reports/",
            "--dry-run",
        ])
        .output()
        .expect("connect-wfm runs")
}

#[cfg(not(feature = "aws"))]
#[test]
fn without_the_sdk_reload_names_the_feature_to_build_with() {
    let out = reload("reports");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("--features aws -- reload"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[cfg(not(feature = "aws"))]
#[test]
fn without_the_sdk_a_custom_resource_request_is_refused_naming_the_feature() {
    let out = Command::new(env!("CARGO_BIN_EXE_connect-wfm"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .args(["replay", "--state", "target/no-state", "events/cfn-create.json"])
        .output()
        .expect("connect-wfm runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("events/cfn-create.json: a CloudFormation custom-resource request")
            && stderr.contains("--features aws"),
        "{stderr}"
    );
}

#[cfg(feature = "aws")]
#[test]
fn with_the_sdk_reload_lists_s3_and_names_a_missing_bucket() {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "run through scripts/test, which points AWS_ENDPOINT_URL at the AWS emulator"
    );
    let bucket = format!("connect-wfm-cli-missing-{}", std::process::id());
    let out = reload(&bucket);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("list s3://{bucket}/connect/acme/Reports/")) && stderr.contains("NoSuchBucket"),
        "{stderr}"
    );
}
