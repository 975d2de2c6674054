//! `xvrrp check`: exit status and the diagnostics it prints, warnings included.

use tests::daemon::{Scratch, check};

const GOOD: &str = "vrrp_instance VI_1 {
  interface lo
  virtual_router_id 51
  priority 100
  advert_int 1
  virtual_ipaddress {
    192.0.2.100/32
  }
  frobnicate yes
}
";

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_valid_configuration_exits_0_and_still_shows_its_warnings() {
    let dir = Scratch::new("chk-good");
    let path = dir.write("keepalived.conf", GOOD);
    let out = check(&path);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!(
            "{}:9:3: warning: Unknown keyword 'frobnicate'",
            path.display()
        )),
        "{text}"
    );
    assert!(
        text.contains("valid (1 instances, 0 sync groups)"),
        "{text}"
    );
}

#[test]
fn errors_exit_1_with_file_line_and_column() {
    let dir = Scratch::new("chk-bad");
    let path = dir.write(
        "keepalived.conf",
        &GOOD.replace("virtual_router_id 51", "virtual_router_id 300"),
    );
    let out = check(&path);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let p = path.display();
    assert!(
        text.contains(&format!(
            "{p}:3:21: error: virtual_router_id '300' outside range [1, 255]"
        )),
        "{text}"
    );
    assert!(text.contains(&format!("{p}:9:3: warning:")), "{text}");
    assert!(text.contains("error(s)"), "{text}");

    let path = dir.write(
        "missing-if.conf",
        &GOOD.replace("interface lo", "interface xvrrp-none0"),
    );
    let out = check(&path);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("{}:2:", path.display())) && text.contains("xvrrp-none0"),
        "{text}"
    );
}

#[test]
fn a_missing_file_is_an_error() {
    let dir = Scratch::new("chk-none");
    let out = check(&dir.path("nothing.conf"));
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("cannot read"), "{}", stdout(&out));
}
