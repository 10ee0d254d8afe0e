//! A CLI on a fresh database wired to a fake Graph API with templates and an audience, for the
//! suites that send broadcasts.

use std::collections::HashMap;

use optdesk_core::Store;
use optdesk_fake_graph::{FakeGraph, FakeTemplate, PHONE_NUMBER_ID, TOKEN, WABA_ID};

use super::Cli;

pub struct Env {
    pub cli: Cli,
    pub fake: FakeGraph,
}

impl std::ops::Deref for Env {
    type Target = Cli;
    fn deref(&self) -> &Cli {
        &self.cli
    }
}

impl Env {
    pub fn new() -> Env {
        let fake = FakeGraph::start();
        {
            let mut st = fake.state();
            st.add_template(FakeTemplate::approved(
                "summer_sale",
                "en_GB",
                "MARKETING",
                1,
            ));
            st.add_template(FakeTemplate::approved("order_ready", "en_GB", "UTILITY", 0));
            let mut bare = FakeTemplate::approved("no_way_out", "en_GB", "MARKETING", 0);
            bare.components.retain(|c| c["type"] != "FOOTER");
            st.add_template(bare);
            let mut pending = FakeTemplate::approved("not_yet", "en_GB", "MARKETING", 0);
            pending.status = "PENDING".into();
            st.add_template(pending);
        }
        let cli = Cli::new()
            .with_env("OPTDESK_GRAPH_URL", &fake.url)
            .with_env("OPTDESK_ACCESS_TOKEN", TOKEN)
            .with_env("OPTDESK_APP_SECRET", "s")
            .with_env("OPTDESK_VERIFY_TOKEN", "v");
        let env = Env { cli, fake };
        for (k, v) in [
            ("phone_number_id", PHONE_NUMBER_ID),
            ("waba_id", WABA_ID),
            ("frequency_cap_hours", "0"),
            // Tests run at any hour; quiet hours have tests of their own.
            ("quiet_hours", "off"),
        ] {
            env.ok(&["config", "set", k, v]);
        }
        env.ok(&["templates", "sync"]);
        env
    }

    /// `n` opted-in contacts tagged vip, named Customer i (every third has no name).
    pub fn audience(&self, n: usize) -> Vec<String> {
        let mut csv = String::from("phone,name,tags,marketing,utility,consent_source\n");
        let phones: Vec<String> = (0..n).map(|i| format!("+4479111{i:05}")).collect();
        for (i, p) in phones.iter().enumerate() {
            let name = if i % 3 == 0 {
                String::new()
            } else {
                format!("Customer {i}")
            };
            csv += &format!("{p},{name},vip,yes,yes,fair\n");
        }
        let f = self.file("a.csv", csv.as_bytes());
        self.ok(&["contacts", "import", f.to_str().unwrap()]);
        phones
    }

    pub fn store(&self) -> Store {
        self.cli.store()
    }

    /// Sends WhatsApp accepted, per number.
    pub fn sends_by_number(&self) -> HashMap<String, usize> {
        let mut m = HashMap::new();
        for to in &self.fake.state().accepted {
            *m.entry(format!("+{to}")).or_default() += 1;
        }
        m
    }

    /// Every number any send request named, accepted or not.
    pub fn ever_requested(&self) -> Vec<String> {
        self.fake
            .state()
            .sends()
            .iter()
            .map(|r| format!("+{}", r.body["to"].as_str().unwrap()))
            .collect()
    }

    pub fn create(&self, extra: &[&str]) -> String {
        let mut args = vec![
            "broadcast",
            "create",
            "--template",
            "summer_sale",
            "--language",
            "en_GB",
            "--param",
            "1=@name|there",
        ];
        args.extend_from_slice(extra);
        self.ok(&args).trim().to_string()
    }
}

/// A child process killed when the test ends, even by a failed assertion.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
