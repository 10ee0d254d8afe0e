//! The command line. Users' scripts depend on these names: add, don't rename.

use std::path::PathBuf;

mod broadcasts;
pub use broadcasts::{BroadcastsCmd, PricingCmd};

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "optdesk",
    version,
    about = "Keep WhatsApp customers' consent with proof, and never message anyone who opted out.",
    propagate_version = true
)]
pub struct Cli {
    /// The database file (default: the per-user data directory the desktop app uses too).
    #[arg(long, global = true, env = "OPTDESK_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// Who is making changes, as recorded in the consent ledger (default: cli:$USER).
    #[arg(long, global = true, env = "OPTDESK_ACTOR", value_name = "NAME")]
    pub actor: Option<String>,

    /// On an error, print its detail too (for a damaged database: SQLite's own lines).
    #[arg(long, short, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add, edit, list, import and export contacts.
    #[command(subcommand, visible_alias = "contact")]
    Contacts(ContactsCmd),
    /// Record consent and check the ledger.
    #[command(subcommand)]
    Consent(ConsentCmd),
    /// Read and change settings (default_region, business_name, frequency_cap_hours…).
    #[command(subcommand)]
    Config(ConfigCmd),
    /// The WhatsApp secrets, kept in the system keyring.
    #[command(subcommand, visible_alias = "credential")]
    Credentials(CredentialsCmd),
    /// Message templates: sync from WhatsApp, list, create, lint.
    #[command(subcommand, visible_alias = "template")]
    Templates(TemplatesCmd),
    /// Send an approved template to an audience, never to anyone whose consent does not allow it.
    #[command(subcommand, visible_alias = "broadcast")]
    Broadcasts(BroadcastsCmd),
    /// The rate card broadcast previews estimate costs from (Meta's prices per market).
    #[command(subcommand)]
    Pricing(PricingCmd),
    /// Check the opt-out data: ledger, queues, templates, receiver, review queue, confirmations.
    Audit {
        #[arg(long)]
        json: bool,
    },
    /// Apply the retention period (retention_years): redact old, superseded evidence.
    #[command(subcommand)]
    Retention(RetentionCmd),
    /// Check the whole database file now (SQLite's full check). Its verdict is kept beside the
    /// file: every writer reads it and refuses a damaged file. The app and `serve` run it daily.
    Check {
        #[arg(long)]
        json: bool,
    },
    /// A consistent copy of the database, safe while OptDesk runs.
    Backup { file: PathBuf },
    /// Replace the database with a backup, after checking it (integrity, schema, ledger).
    Restore { file: PathBuf },
    /// The database's encryption key.
    #[command(subcommand)]
    Key(KeyCmd),
    /// Sign-up QR codes and links: the customer's own message is their opt-in.
    #[command(subcommand, visible_alias = "signup")]
    Signups(SignupsCmd),
    /// Run the webhook receiver (Meta calls it with replies, opt-outs and delivery statuses).
    Serve {
        /// Address to listen on; put a tunnel or reverse proxy with HTTPS in front of it.
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: std::net::SocketAddr,
    },
    /// Every opt-out, with its evidence and its confirmation's delivery.
    #[command(subcommand, visible_alias = "optout")]
    Optouts(OptoutsCmd),
    /// Messages that may be opt-outs, waiting for your decision.
    #[command(subcommand)]
    Review(ReviewCmd),
    /// Webhook bodies as received; retry those that failed to process.
    #[command(subcommand)]
    Inbox(InboxCmd),
    /// Connect Meta's webhooks to OptDesk, see where they go, test the public address.
    #[command(subcommand)]
    Webhook(WebhookCmd),
    /// Check how the shop's keyword rules read a message.
    #[command(subcommand, visible_alias = "keyword")]
    Keywords(KeywordsCmd),
    /// Run an always-on relay mailbox (on a server, not the shop PC): it keeps Meta's webhooks,
    /// sealed, while the shop PC is off. No contacts, no ledger, no keyring.
    Relay(RelayArgs),
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RelayArgs {
    /// The relay's data directory (its relay.db).
    #[arg(long, global = true, env = "OPTDESK_RELAY_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<RelayCmd>,
    #[command(flatten)]
    pub serve: RelayServe,
}

#[derive(Debug, Args)]
pub struct RelayServe {
    /// Address to listen on; put Caddy or nginx with HTTPS in front of it.
    #[arg(long, default_value = "127.0.0.1:8788")]
    pub listen: std::net::SocketAddr,
    /// The https address Meta and desktops reach this relay at (kept; `mailbox add` prints
    /// hook URLs under it).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Bodies per second one mailbox takes, sustained, before Meta is told to retry (0: no limit).
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Bodies one mailbox takes at once above that rate.
    #[arg(long, default_value_t = 2000.0)]
    pub burst: f64,
    /// Sealed megabytes one mailbox may hold waiting for its desktop.
    #[arg(long, default_value_t = 1024)]
    pub max_pending_mb: i64,
    /// Days a body nobody collected is kept.
    #[arg(long, default_value_t = 30)]
    pub keep_days: i64,
}

#[derive(Debug, Subcommand)]
pub enum RelayCmd {
    /// The shops' mailboxes on this relay.
    #[command(subcommand)]
    Mailbox(MailboxCmd),
    /// Make a new secret for /metrics (printed once; the relay keeps its hash).
    AdminSecret,
}

#[derive(Debug, Subcommand)]
pub enum MailboxCmd {
    /// Create a mailbox; prints once its hook URL, its verify token and its pull secret.
    Add {
        /// A label for the operator (the URL carries an unguessable id).
        name: String,
        /// The relay's https base address, if not given to the relay with --public-url.
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Every mailbox: its desktop, what it holds, what it has passed on.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Replace a mailbox's pull secret (the old one stops working); prints the new one once.
    Rotate { name: String },
    /// Give the relay the shop's Meta app secret, read from standard input, so it refuses
    /// forged bodies itself. The relay is then trusted: it could forge events too.
    Trust { name: String },
    /// Take the app secret away again (the default: the desktop checks every signature).
    Untrust { name: String },
    /// Delete a mailbox and everything it holds.
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
pub enum SignupsCmd {
    /// Create a sign-up code; prints its click-to-chat link.
    Create {
        /// Where it is shown ("Till", "Window poster").
        #[arg(long)]
        label: String,
        /// marketing or utility.
        #[arg(long, default_value = "marketing")]
        topic: String,
        /// The prefilled message; {code} marks where the code goes (default: at the end).
        #[arg(long)]
        text: Option<String>,
        /// Write the link as a QR code image (PNG).
        #[arg(long, value_name = "FILE.png")]
        qr: Option<PathBuf>,
        /// Write a printable A4 poster (PDF) with the QR code.
        #[arg(long, value_name = "FILE.pdf")]
        poster: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Every sign-up source and how many opt-ins it brought.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Stop a code from opting anyone in (messages with it go to review).
    Retire { code: String },
}

#[derive(Debug, Subcommand)]
pub enum RetentionCmd {
    /// Redact superseded evidence older than retention_years (never the proof of a current
    /// state, never anything younger), drop old processed webhook bodies, and end erased people's
    /// suppression once the period is over.
    Apply {
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum OptoutsCmd {
    List {
        /// Only opt-outs on or after this date (2026-11-01).
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReviewCmd {
    /// Open items (with --all, decided ones too).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// It was an opt-out: opt the person out of everything.
    Accept { id: i64 },
    /// It was not an opt-out.
    Dismiss { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum InboxCmd {
    /// Bodies that failed to process, with why.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Process the failed bodies again.
    Retry,
}

#[derive(Debug, Subcommand)]
pub enum WebhookCmd {
    /// Make Meta send webhooks here, by API: test the public address from outside, subscribe
    /// the app to the WhatsApp Business Account, set the callback, and read the routing back.
    Connect {
        /// If another system receives this app's webhooks, make OptDesk the app's callback
        /// (that system stops receiving them).
        #[arg(long, conflicts_with = "number_only")]
        replace: bool,
        /// Leave the app's callback alone and route only this number's messages here (its
        /// override); "Stop marketing", template and account events keep going elsewhere.
        #[arg(long)]
        number_only: bool,
        /// Where to run the receiver for the checks when neither the app nor `optdesk serve`
        /// is running (default: receiver_port, else 127.0.0.1:8787).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Receive through a relay mailbox: its hook URL, as `optdesk relay mailbox add`
        /// printed it (save its pull secret first with `optdesk credentials set --relay`).
        /// Sets webhook_mode relay.
        #[arg(long, value_name = "HOOK_URL")]
        relay: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Where each kind of event goes (read from Meta), the mode, the tunnel, the last webhook.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Remove the callback OptDesk set (never unsubscribes the app from the account).
    Disconnect,
    /// Post a signed test event to <public_url>/webhook, as Meta would, and report whether it
    /// reached this database's receiver.
    Test {
        /// Test this base address instead of public_url (e.g. the local receiver,
        /// http://127.0.0.1:8787, before the tunnel).
        #[arg(long)]
        url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeywordsCmd {
    /// Prints opt-out, opt-in, help, review or none, and the word that decided it.
    Test {
        text: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CredentialsCmd {
    /// Save secrets in the system keyring: asks for each without echo, or reads one line per
    /// secret from standard input (an empty line keeps the current one). Never from arguments.
    Set {
        /// Only the access token.
        #[arg(long)]
        access_token: bool,
        /// Only the app secret.
        #[arg(long)]
        app_secret: bool,
        /// Only the webhook verify token.
        #[arg(long)]
        verify_token: bool,
        /// Only the ngrok authtoken (for `webhook_mode ngrok`).
        #[arg(long)]
        ngrok: bool,
        /// Only the relay mailbox's pull secret (for `webhook_mode relay`).
        #[arg(long)]
        relay: bool,
    },
    /// Which secrets are set and where (never their values).
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Call WhatsApp with the saved settings and token, and say what works and what is wrong.
    Test {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TemplatesCmd {
    /// Pull every template (all pages, all languages) from WhatsApp.
    Sync {
        #[arg(long)]
        json: bool,
    },
    /// The templates OptDesk knows.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Check a template (a JSON file in the Graph API's shape) and submit it for review. A
    /// marketing template without a way to opt out gets the opt-out footer.
    Create {
        file: PathBuf,
        /// Check and show what would be submitted, without submitting.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// Marketing templates that give customers no way to opt out (exit 1 when there are any).
    Lint {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ContactsCmd {
    /// Import contacts (and their consent) from a CSV file.
    Import(ImportArgs),
    /// List contacts.
    List(ListArgs),
    /// Show one contact with its consent history.
    Show {
        phone: String,
        #[arg(long)]
        json: bool,
    },
    /// Add a contact (with no consent: record that with `consent set`).
    Add {
        phone: String,
        #[arg(long)]
        name: Option<String>,
        /// A tag (repeatable).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
    },
    /// Change a contact's name or tags.
    Edit {
        phone: String,
        #[arg(long)]
        name: Option<String>,
        /// Add a tag (repeatable).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// Remove a tag (repeatable).
        #[arg(long = "untag", value_name = "TAG")]
        untags: Vec<String>,
    },
    /// Everything held about one person and the proof of their consent (a rights request).
    Proof {
        phone: String,
        #[arg(long)]
        json: bool,
        /// Write it as a page to read and print.
        #[arg(long, value_name = "FILE.html")]
        html: Option<PathBuf>,
    },
    /// Erase a person: their data goes, the salted hash of their number stays suppressed.
    Erase {
        phone: String,
        /// Confirm without the prompt (scripts).
        #[arg(long)]
        yes: bool,
    },
    /// Every contact with its consent and latest evidence, as CSV (or an .xlsx workbook) that
    /// `import` reads back.
    Export {
        /// JSON on stdout (the same as --format json).
        #[arg(long)]
        json: bool,
        /// csv, json or xlsx (typed cells: numbers as text, consent times as dates). Without it,
        /// the --output file's extension decides, else CSV.
        #[arg(long, value_name = "FORMAT")]
        format: Option<String>,
        /// Write to this file instead of stdout (an .xlsx workbook needs one).
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    pub file: PathBuf,
    /// Country for numbers written without +code, e.g. GB (default: the default_region setting).
    #[arg(long, value_name = "CC")]
    pub region: Option<String>,
    /// Where the consent in the file came from, for rows without a source column.
    #[arg(long, value_name = "TEXT")]
    pub source: Option<String>,
    /// Show what would change and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Which column of the file is which, when OptDesk's guess is wrong: FIELD=HEADER, e.g.
    /// --map phone="Mobile Phone", --map name=Cliente, --map marketing="Accepts SMS Marketing",
    /// --map ignore=Notes (repeatable). FIELD is one of phone, whatsapp, mobile, name,
    /// first_name, last_name, company, country, tags, marketing, utility, consent_source,
    /// consent_at, …, or ignore.
    #[arg(long = "map", value_name = "FIELD=HEADER")]
    pub map: Vec<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long)]
    pub json: bool,
    /// Only contacts with this tag (repeatable: any of them).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// opted_in, opted_out or unknown.
    #[arg(long, value_name = "STATE")]
    pub marketing: Option<String>,
    /// opted_in, opted_out or unknown.
    #[arg(long, value_name = "STATE")]
    pub utility: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ConsentCmd {
    /// Record a consent decision in the ledger.
    Set(SetArgs),
    /// Check the ledger's hash chain and that every contact's consent matches it.
    Verify {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct SetArgs {
    pub phone: String,
    /// marketing or utility.
    #[arg(long)]
    pub topic: String,
    /// opted_in or opted_out.
    #[arg(long)]
    pub state: String,
    /// How you know ("phone call", "paper form at the till", …).
    #[arg(long, value_name = "TEXT")]
    pub source: String,
    /// The words the customer agreed to, or what they said to opt out.
    #[arg(long, value_name = "TEXT")]
    pub proof: Option<String>,
    /// The kind of source (in_store, phone_call, paper_form, web_form, owner_toggle…);
    /// guessed from --source when it names one.
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// When the customer said so (default: now), e.g. 2026-03-01 14:30.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Print a setting's value.
    Get { key: String },
    /// Change a setting.
    Set { key: String, value: String },
    /// Remove a setting (back to its default).
    Unset { key: String },
    /// Every setting with its value.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    /// Print the database key as a recovery code, to write down and keep somewhere safe.
    Export,
}
