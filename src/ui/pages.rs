//! The askama templates of the review UI (`templates/*.html`, HTML-escaped by default) and the
//! data each one prints. Every page extends `base.html`, which reads [`Frame`].

use super::views::{
    ClockRow, DecisionView, FeedRow, Opt, PortfolioProduct, QueueRow, ReleaseRow, SignalsView,
    SignoffRow, SoupView, TraceRow,
};
use askama::Template;

/// What the page frame shows: title, the signed-in person (empty on the login page), the CSRF
/// token of the sign-out form, and which main section is current.
#[derive(Debug, Clone, Default)]
pub struct Frame {
    pub title: String,
    pub user: String,
    pub role: String,
    pub csrf: String,
    pub nav: &'static str,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub frame: Frame,
    pub csrf: String,
    pub next: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub frame: Frame,
    pub heading: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "queue.html")]
pub struct QueuePage {
    pub frame: Frame,
    pub sort: &'static str,
    /// `&product=...` to keep a product filter across the sort links (already encoded).
    pub filter_q: String,
    pub rows: Vec<QueueRow>,
}

/// The ticket's own facts, as the header card shows them.
#[derive(Debug, Clone)]
pub struct TicketHead {
    pub id: String,
    pub href: String,
    pub product: String,
    pub vulnerability: String,
    pub aliases: String,
    pub summary: String,
    pub state: String,
    pub signed_off: bool,
    pub awareness: String,
    pub opened: String,
    pub updated: String,
    pub tasks: Vec<String>,
}

/// What the signoff form is re-filled with after a refused submission.
#[derive(Debug, Clone, Default)]
pub struct SignoffEcho {
    pub action: String,
    pub meaning: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "ticket.html")]
pub struct TicketPage {
    pub frame: Frame,
    pub t: TicketHead,
    pub d: DecisionView,
    pub s: SignalsView,
    pub releases: Vec<ReleaseRow>,
    pub soup: Vec<SoupView>,
    pub trace: Vec<TraceRow>,
    pub clocks: Vec<ClockRow>,
    pub signoffs: Vec<SignoffRow>,
    pub can_sign: bool,
    pub can_move: bool,
    pub risk_opts: Vec<Opt>,
    pub change_us_opts: Vec<Opt>,
    pub change_eu_opts: Vec<Opt>,
    pub state_opts: Vec<Opt>,
    pub form: SignoffEcho,
    pub flash: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "portfolio.html")]
pub struct PortfolioPage {
    pub frame: Frame,
    pub products: Vec<PortfolioProduct>,
}

#[derive(Template)]
#[template(path = "feeds.html")]
pub struct FeedsPage {
    pub frame: Frame,
    pub rows: Vec<FeedRow>,
    pub stale_count: usize,
}

/// The stylesheet, served at `/ui/static/ui.css` (a file of its own, so the CSP can forbid
/// inline styles and scripts).
pub const STYLESHEET: &str = include_str!("../../templates/ui.css");
