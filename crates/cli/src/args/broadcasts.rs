//! `optdesk broadcasts …` and `optdesk pricing …`.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum BroadcastsCmd {
    /// Create a broadcast; prints its id alone.
    Create {
        #[arg(long)]
        template: String,
        #[arg(long)]
        language: String,
        /// Only contacts with this tag (repeatable: any of them). Default: everyone.
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// A body parameter: N=TEXT or N=@name|fallback for numbered variables, NAME=… for
        /// named ones ({{first_name}}) (repeatable).
        #[arg(long = "param", value_name = "N=VALUE")]
        params: Vec<String>,
        /// The text header's variable: TEXT, or @name|fallback.
        #[arg(long, value_name = "VALUE")]
        header_param: Option<String>,
        #[arg(long, value_name = "LABEL")]
        name: Option<String>,
        /// Send a marketing template that gives no way to opt out anyway; the reason is kept.
        #[arg(long, value_name = "WHY")]
        override_reason: Option<String>,
    },
    /// Who will and will not receive it, and why.
    Preview {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Send it (or resume it) in the foreground; Ctrl-C pauses.
    Send {
        id: i64,
        /// Messages per second (default: the send_rate setting, 20).
        #[arg(long)]
        rate: Option<f64>,
        /// In relay mode, start even if the relay mailbox cannot be collected first (opt-outs
        /// may be waiting there); for this start only, and recorded on the broadcast.
        #[arg(long)]
        without_relay: bool,
        /// Send a marketing broadcast inside quiet hours anyway (recorded on the broadcast).
        #[arg(long)]
        during_quiet_hours: bool,
        /// Turn the brake off for this broadcast (recorded on the broadcast).
        #[arg(long)]
        no_brake: bool,
    },
    /// Start it later, at a time in the shop's zone ("2026-12-05 09:30"); the app or
    /// `optdesk serve` starts it then.
    Schedule {
        id: i64,
        #[arg(long, value_name = "TIME")]
        at: String,
        /// If nothing is running at that time, still start it this much later (2h, 30m);
        /// without it a missed schedule waits for you.
        #[arg(long, value_name = "DURATION")]
        late_ok: Option<String>,
    },
    /// Take the schedule off a broadcast that has not started.
    Unschedule { id: i64 },
    /// What it did: delivered, read, failed by reason, held back, and who opted out after it.
    Results {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Counts by state (and each recipient with --recipients).
    Status {
        id: i64,
        #[arg(long)]
        recipients: bool,
        #[arg(long)]
        json: bool,
    },
    /// Pause a running broadcast after what is in flight.
    Pause { id: i64 },
    /// Stop a broadcast for good.
    Cancel { id: i64 },
    /// Settle recipients held as unknown after a crash: --resend (accepting a possible
    /// duplicate) or --drop.
    Resolve {
        id: i64,
        #[arg(long, conflicts_with = "drop", required_unless_present = "drop")]
        resend: bool,
        #[arg(long)]
        drop: bool,
    },
    /// Every broadcast.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PricingCmd {
    /// Replace the rate card with a CSV file: a Market column (and Countries for regions such
    /// as "Rest of Western Europe"), Currency, and Marketing/Utility/Authentication/Service.
    Import {
        file: std::path::PathBuf,
        /// Where it comes from ("Meta rate card, downloaded 2026-11-30").
        #[arg(long)]
        source: String,
        /// The date its rates apply from.
        #[arg(long, value_name = "DATE")]
        effective: String,
    },
    /// The rate card loaded, if any.
    Show {
        #[arg(long)]
        json: bool,
    },
}
