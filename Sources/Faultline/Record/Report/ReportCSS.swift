extension ReportHTML {
    /// The page's only stylesheet, inline. System fonts (nothing fetched); sized for a 1366×768
    /// laptop (content up to 1280 px); on paper A4 landscape, white, one proxy per page.
    static let css = """
    :root{--ink:#1f2328;--muted:#6a737d;--line:#d8dee4;--good:#1a7f37;--bad:#c62828;--err:#9a6700}
    *{box-sizing:border-box}
    body{margin:0 auto;max-width:1280px;padding:14px 20px 24px;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:#fff}
    h1{font-size:22px;margin:0 0 2px;display:flex;align-items:center;gap:12px;flex-wrap:wrap}
    h2{font-size:16px;margin:18px 0 6px;padding-bottom:3px;border-bottom:1px solid var(--line)}
    .desc{margin:0 0 6px;color:var(--muted)}
    .facts{display:flex;flex-wrap:wrap;gap:4px 22px;margin:6px 0}
    .facts div{display:flex;gap:6px}.facts dt{color:var(--muted)}.facts dd{margin:0;font-weight:600}
    .command{margin:4px 0}.command code{background:#f3f4f6;padding:1px 5px;border-radius:4px;overflow-wrap:anywhere}
    .k{color:var(--muted)}
    code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
    .badge{font-size:13px;font-weight:700;letter-spacing:.04em;padding:3px 10px;border-radius:12px;color:#fff}
    .badge.pass{background:var(--good)}.badge.fail{background:var(--bad)}
    .good{color:var(--good);font-weight:600}.bad{color:var(--bad);font-weight:600}.muted{color:var(--muted);font-weight:400}
    .notes ul{margin:8px 0;padding:8px 12px 8px 28px;background:#fff8e1;border:1px solid #f0d68a;border-radius:6px}
    table{border-collapse:collapse;font-variant-numeric:tabular-nums}
    th,td{padding:3px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
    th{font-weight:600;color:var(--muted);font-size:12.5px}
    td.num{text-align:right;white-space:nowrap}
    .verdicts table{width:100%}.verdicts td.fig{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
    .pill{display:inline-block;min-width:52px;text-align:center;font-size:12px;font-weight:700;padding:1px 8px;border-radius:10px;color:#fff}
    .pill.pass{background:var(--good)}.pill.fail{background:var(--bad)}.pill.error{background:var(--err)}
    .summary{margin:6px 0 0;font-weight:600}
    svg{display:block;width:100%;height:auto;margin:4px 0;font-size:12px}
    svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#1f2328}
    svg .lab{font-size:12px}svg .tick{font-size:11px;fill:#57606a}
    svg .rule{stroke:#d0d7de;stroke-width:.6;stroke-dasharray:2 3}svg .base{stroke:#8c959f;stroke-width:1}
    svg .edge{stroke:#57606a;stroke-width:.8;stroke-dasharray:4 3;stroke-opacity:.6}
    .twocol{display:flex;gap:18px;flex-wrap:wrap;align-items:flex-start;margin-top:6px}
    table.small{font-size:13px}
    .sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;vertical-align:-1px;border:1px solid rgba(0,0,0,.15)}
    .proxy h2 .name{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
    .legend{display:flex;flex-wrap:wrap;gap:4px 16px;margin:2px 0 8px;font-size:12.5px}
    .legend i{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;vertical-align:-1px}
    table.traffic{width:100%}table.traffic tr.total td{font-weight:700;border-top:2px solid var(--line)}
    .extras{display:flex;flex-wrap:wrap;gap:18px;margin-top:10px;align-items:flex-start}
    footer{margin-top:22px;color:var(--muted);font-size:12px}
    @media print{
      @page{size:A4 landscape;margin:10mm}
      body{max-width:none;padding:0;font-size:11.5px}
      *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
      .proxy{break-before:page}
      svg,table,tr{break-inside:avoid}
      h2{break-after:avoid}
    }
    """
}
