// The credflow console: plain DOM and SVG, no framework, no build. It polls the JSON views of the
// local cloud (api/overview, api/execution, api/policy-log) and draws them; every text goes in as textContent,
// never as HTML. The graph's layout comes laid out from the server (local/console/graph.ts).

(() => {
  const SVG = 'http://www.w3.org/2000/svg';
  const app = document.getElementById('app');
  const updated = document.getElementById('updated');
  let timer;
  let generation = 0;

  /** An element with attributes and children (strings become text nodes). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs ?? {}))
      if (v !== undefined && v !== null) node.setAttribute(k, v);
    for (const c of children.flat()) if (c !== undefined && c !== null) node.append(c);
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs ?? {}))
      if (v !== undefined && v !== null) node.setAttribute(k, v);
    for (const c of children.flat()) if (c !== undefined && c !== null) node.append(c);
    return node;
  }

  const time = (iso) => (iso ? new Date(iso).toLocaleString() : '');
  const duration = (a, b) => {
    if (!a) return '';
    const ms = (b ? Date.parse(b) : Date.now()) - Date.parse(a);
    return ms < 1000
      ? `${ms} ms`
      : ms < 120000
        ? `${(ms / 1000).toFixed(1)} s`
        : `${Math.round(ms / 60000)} min`;
  };

  const TONE = {
    SUCCEEDED: 'good',
    ok: 'good',
    available: 'good',
    active: 'good',
    broken: 'bad',
    'rolled-forward': 'warn',
    'rolled-back': 'warn',
    due: 'warn',
    rotating: 'busy',
    RUNNING: 'busy',
    FAILED: 'bad',
    TIMED_OUT: 'bad',
    ABORTED: 'bad',
    failed: 'bad',
    'scheduled-for-deletion': 'bad',
    allowed: 'good',
    denied: 'bad',
    // The kinds of the attention view, worst first.
    failing: 'bad',
    stuck: 'warn',
    overdue: 'warn',
    drifted: 'warn',
    unbound: 'bad',
    unadopted: 'idle',
  };
  const LINK_LABEL = {
    child: 'started',
    parent: 'started by',
    'failed-rotation': 'failed rotation',
  };
  const badge = (text) => el('span', { class: `badge ${TONE[text] ?? 'idle'}` }, text);

  function table(headers, rows) {
    if (rows.length === 0) return el('p', { class: 'muted' }, 'Nothing yet.');
    return el(
      'table',
      {},
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          headers.map((h) => el('th', {}, h)),
        ),
      ),
      el('tbody', {}, rows),
    );
  }

  /**
   * A bar segment. Its width is set through the CSSOM: the console's Content-Security-Policy
   * (style-src 'self') refuses inline style attributes, not script-set style properties.
   */
  function segment(cls, width) {
    const node = el('span', { class: cls, 'data-width': width });
    node.style.width = width;
    return node;
  }

  const executionLink = (e, text) =>
    el('a', { href: `#/execution/${encodeURIComponent(e.arn)}`, 'data-execution': e.arn }, text);

  async function load(path) {
    const res = await fetch(path, { credentials: 'same-origin', cache: 'no-store' });
    const body = await res.json();
    if (!res.ok) throw new Error(body.message ?? `HTTP ${res.status}`);
    return body;
  }

  /**
   * What needs attention, first: the rows `credflow status` prints, worst first, each secret
   * linked to its latest rotation and repair; then the healthy counts and what was not checked.
   */
  function attentionCard(a) {
    const h = a.healthy;
    const linkOrNone = (e) =>
      e ? [executionLink(e, e.name), ' ', badge(e.status)] : el('span', { class: 'muted' }, 'none listed');
    const rows = a.rows.map((r) =>
      el(
        'tr',
        { 'data-attention': r.secret, 'data-kind': r.kind },
        el('td', { 'data-col': 'kind' }, badge(r.kind)),
        el('td', { class: 'mono', 'data-col': 'secret' }, r.secret),
        el('td', { 'data-col': 'database' }, r.database ?? ''),
        el('td', { 'data-col': 'since', title: r.since ?? '' }, time(r.since)),
        el(
          'td',
          { 'data-col': 'what' },
          r.detail,
          r.also.length ? el('div', { class: 'muted' }, `also ${r.also.join(', ')}`) : null,
        ),
        el('td', { class: 'mono', 'data-col': 'look' }, r.look),
        el('td', { 'data-col': 'rotation' }, linkOrNone(r.lastRotation)),
        el('td', { 'data-col': 'repair' }, linkOrNone(r.lastRepair)),
      ),
    );
    return el(
      'section',
      { class: 'card', id: 'attention' },
      el('h2', {}, `Needs attention (${a.rows.length})`),
      a.rows.length
        ? table(
            ['kind', 'secret', 'database', 'since', 'what', 'look at', 'latest rotation', 'latest repair'],
            rows,
          )
        : el('p', { class: 'muted' }, `Nothing needs attention (${a.scanned} secrets).`),
      el(
        'p',
        { id: 'healthy' },
        `healthy: ${h.ok} ok, ${h.rotating} rotating, ${h.rdsMasters} RDS master secret(s); `,
        el(
          'span',
          { class: 'muted' },
          `${h.other} other secret(s) not credflow's, ${h.deleted} scheduled for deletion`,
        ),
      ),
      a.notes.map((n) => el('p', { class: 'muted', 'data-note': '' }, `note: ${n}`)),
    );
  }

  function renderOverview(o) {
    document.getElementById('stage').textContent = `stage ${o.stage}`;
    const fleets = o.fleets.map((f) => {
      const total = f.total ?? f.rotated + f.failed + f.inFlight;
      const pct = (n) => `${total ? (100 * n) / total : 0}%`;
      return el(
        'tr',
        { 'data-fleet': f.arn },
        el('td', {}, executionLink(f, f.name)),
        el('td', {}, badge(f.status)),
        el(
          'td',
          {},
          el(
            'div',
            { class: 'progress', title: `${f.rotated} rotated, ${f.failed} failed, ${f.inFlight} in flight` },
            segment('ok', pct(f.rotated)),
            segment('bad', pct(f.failed)),
            segment('busy', pct(f.inFlight)),
          ),
        ),
        el(
          'td',
          { 'data-col': 'progress' },
          `${f.rotated} rotated, ${f.failed} failed, ${f.inFlight} in flight of ${f.total ?? '?'}`,
        ),
        el('td', {}, time(f.start)),
      );
    });
    const secrets = o.secrets.map((s) =>
      el(
        'tr',
        { 'data-secret': s.name },
        el('td', { class: 'mono', 'data-col': 'name' }, s.name),
        el('td', { 'data-col': 'strategy' }, s.strategy),
        el('td', { 'data-col': 'user' }, s.user ?? ''),
        el('td', { 'data-col': 'database' }, s.database ?? ''),
        el('td', { 'data-col': 'last' }, time(s.lastRotated)),
        el('td', { 'data-col': 'next' }, s.nextRotation ? `${time(s.nextRotation)} (${s.rotation})` : ''),
        el('td', { 'data-col': 'status' }, badge(s.status)),
        el(
          'td',
          { 'data-col': 'last-execution' },
          s.lastExecution
            ? executionLink(s.lastExecution, `${s.lastExecution.workflow} ${s.lastExecution.status}`)
            : '',
        ),
      ),
    );
    const databases = o.databases.map((d) =>
      el(
        'tr',
        { 'data-database': d.identifier },
        el('td', { class: 'mono' }, d.identifier),
        el('td', {}, d.kind),
        el('td', {}, d.engine),
        el(
          'td',
          { 'data-col': 'status' },
          badge(d.status),
          d.problem ? el('div', { class: 'error' }, d.problem) : null,
        ),
        el('td', { class: 'mono' }, d.endpoint ?? ''),
        el('td', {}, d.masterSecret ? badge(d.masterSecret) : ''),
      ),
    );
    const executions = o.executions.map((e) =>
      el(
        'tr',
        { 'data-execution-row': e.arn },
        el('td', {}, e.workflow),
        el('td', { class: 'mono', 'data-col': 'for' }, e.for ?? ''),
        el('td', { 'data-col': 'status' }, badge(e.status)),
        el('td', {}, time(e.start)),
        el('td', {}, duration(e.start, e.stop)),
        el('td', { class: 'mono' }, executionLink(e, e.name)),
      ),
    );
    const alerts = o.alerts.map((a) =>
      el(
        'tr',
        { 'data-alert': '' },
        el('td', {}, time(a.time)),
        el('td', {}, a.subject ?? ''),
        el('td', {}, a.message),
      ),
    );
    app.replaceChildren(
      attentionCard(o.attention),
      o.fleets.length
        ? el(
            'section',
            { class: 'card', id: 'fleets' },
            el('h2', {}, 'Fleet rotations'),
            table(['execution', 'status', 'progress', '', 'started'], fleets),
          )
        : '',
      el(
        'section',
        { class: 'card', id: 'secrets' },
        el('h2', {}, `Secrets (${o.secrets.length})`),
        table(
          [
            'name',
            'strategy',
            'user',
            'database',
            'last rotated',
            'next rotation',
            'status',
            'latest execution',
          ],
          secrets,
        ),
      ),
      el(
        'section',
        { class: 'card', id: 'databases' },
        el('h2', {}, `Databases (${o.databases.length})`),
        table(['identifier', 'kind', 'engine', 'status', 'endpoint', 'master secret'], databases),
      ),
      el(
        'section',
        { class: 'card', id: 'executions' },
        el('h2', {}, 'Recent executions'),
        table(['workflow', 'for', 'status', 'started', 'took', 'execution'], executions),
      ),
      el(
        'section',
        { class: 'card', id: 'alerts' },
        el('h2', {}, `Alerts (${o.alerts.length})`),
        table(['time', 'subject', 'message'], alerts),
      ),
    );
  }

  /** A path through the points: straight ends, smooth bends. */
  function pathOf(points) {
    const [first, ...rest] = points;
    let d = `M${first[0]},${first[1]}`;
    let prev = first;
    for (const p of rest) {
      const my = (prev[1] + p[1]) / 2;
      d +=
        prev[0] === p[0] || prev[1] === p[1]
          ? ` L${p[0]},${p[1]}`
          : ` C${prev[0]},${my} ${p[0]},${my} ${p[0]},${p[1]}`;
      prev = p;
    }
    return d;
  }

  function drawGraph(view) {
    const { graph, states } = view;
    const statusOf = (id) => states[id]?.status ?? 'not-run';
    const ran = (id) => id === '(start)' || (states[id] && states[id].entered > 0);
    const edges = graph.edges.map((e) => {
      // The path the execution took: a Catch edge only out of a state that failed and was caught.
      const caught = statusOf(e.from) === 'caught';
      const taken =
        ran(e.from) &&
        (e.kind === 'catch') === caught &&
        (ran(e.to) || (e.to === '(end)' && view.execution.status !== 'RUNNING'));
      const [a, b] = [e.points[0], e.points[e.points.length - 1]];
      const mid = e.points[Math.floor(e.points.length / 2)];
      return svg(
        'g',
        { class: `edge ${e.kind}${taken ? ' taken' : ''}`, 'data-from': e.from, 'data-to': e.to },
        svg('path', {
          d: pathOf(e.points),
          'marker-end': `url(#arrow-${e.kind === 'catch' ? 'catch' : 'next'})`,
        }),
        e.label
          ? svg('text', { x: (a[0] + b[0] + 2 * mid[0]) / 4 + 4, y: (a[1] + b[1] + 2 * mid[1]) / 4 }, e.label)
          : null,
      );
    });
    const nodes = graph.nodes.map((n) => {
      const terminal = n.type === 'Start' || n.type === 'End';
      const run = states[n.id];
      const status = terminal ? 'terminal' : statusOf(n.id);
      const tip = terminal
        ? n.label
        : [
            `${n.label} (${n.type}): ${status}`,
            run?.attempts > 1 ? `${run.attempts} attempts` : '',
            run?.entered > 1 ? `entered ${run.entered} times` : '',
            run?.ms !== undefined ? `${run.ms} ms` : '',
            run?.error ?? '',
          ]
            .filter(Boolean)
            .join('\n');
      return svg(
        'g',
        {
          class: `node ${terminal ? 'terminal' : `st-${status}`}`,
          'data-state': n.id,
          'data-status': status,
          transform: `translate(${n.x},${n.y})`,
        },
        svg('title', {}, tip),
        svg('rect', { width: n.w, height: n.h, rx: terminal ? n.h / 2 : 6 }),
        svg('text', { x: n.w / 2, y: terminal ? n.h / 2 + 4 : 17 }, n.label),
        terminal
          ? null
          : svg(
              'text',
              { class: 'type', x: n.w / 2, y: 31 },
              n.type + (run?.attempts > 1 ? ` · ${run.attempts} attempts` : ''),
            ),
      );
    });
    const marker = (id, color) =>
      svg(
        'marker',
        {
          id,
          viewBox: '0 0 10 10',
          refX: 9,
          refY: 5,
          markerWidth: 7,
          markerHeight: 7,
          orient: 'auto-start-reverse',
        },
        svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: color }),
      );
    return svg(
      'svg',
      {
        width: graph.width,
        height: graph.height,
        viewBox: `0 0 ${graph.width} ${graph.height}`,
        role: 'img',
        id: 'graph',
      },
      svg('defs', {}, marker('arrow-next', '#5c6b7a'), marker('arrow-catch', '#c62828')),
      edges,
      nodes,
    );
  }

  function legend() {
    const item = (status, text) =>
      el(
        'span',
        {},
        (() => {
          const s = svg(
            'svg',
            { width: 14, height: 14 },
            svg(
              'g',
              { class: `node st-${status}` },
              svg('rect', { x: 1, y: 1, width: 12, height: 12, rx: 3 }),
            ),
          );
          return s;
        })(),
        ` ${text}`,
      );
    return el(
      'div',
      { class: 'legend muted' },
      item('succeeded', 'succeeded'),
      item('retried', 'retried'),
      item('failed', 'failed'),
      item('caught', 'failed, caught'),
      item('running', 'running'),
      item('not-run', 'not run'),
    );
  }

  function rotationPanel(r, states) {
    const steps = r.steps.map((s, i) =>
      el(
        'div',
        { class: `step st-${s.status}`, 'data-step': s.step, 'data-status': s.status },
        el('div', { class: 'n' }, `${i + 1}. ${s.step.replace('Secret', '')}`),
        el(
          'div',
          { class: 'muted' },
          s.status === 'not-run' ? 'not run' : `${s.status}${s.outcome ? ` · ${s.outcome}` : ''}`,
        ),
        states[s.step]?.error ? el('div', { class: 'error' }, states[s.step].error) : null,
      ),
    );
    return el(
      'div',
      {},
      el('h2', {}, 'Rotation'),
      el('div', { class: 'steps' }, steps),
      r.verify ? checksPanel(r.verify) : null,
    );
  }

  function checksPanel(v) {
    return el(
      'div',
      { id: 'verify' },
      el('h2', {}, 'Verify ', badge(v.ok ? 'ok' : 'failed'), v.drift ? [' ', badge('drift')] : null),
      el(
        'ul',
        { class: 'checks' },
        v.checks.map((c) =>
          el(
            'li',
            { class: c.ok ? 'pass' : 'fail', 'data-check': c.check, 'data-ok': String(c.ok) },
            el('span', { class: 'mark' }, c.ok ? '✓' : '✗'),
            el('strong', {}, c.check),
            ` — ${c.detail}`,
          ),
        ),
      ),
    );
  }

  function renderExecution(v) {
    const e = v.execution;
    const start = e.start ? Date.parse(e.start) : 0;
    const history = v.history.map((h) =>
      el(
        'tr',
        { 'data-event': h.id },
        el('td', { class: 'mono' }, String(h.id)),
        el('td', { class: 'mono' }, start ? `+${Date.parse(h.time) - start} ms` : time(h.time)),
        el('td', {}, h.type),
        el('td', { class: 'mono' }, h.state ?? ''),
        el('td', { class: 'error' }, h.detail ?? ''),
      ),
    );
    app.replaceChildren(
      el(
        'section',
        { class: 'card', id: 'execution', 'data-status': e.status },
        el('h2', {}, `${e.workflow}  `, badge(e.status)),
        el(
          'div',
          { class: 'muted mono' },
          e.name,
          ` · started ${time(e.start)} · ${duration(e.start, e.stop)}`,
          e.secretId ? ` · secret ${e.secretId}` : '',
        ),
        e.error ? el('p', { class: 'error', id: 'execution-error' }, `${e.error}: ${e.cause ?? ''}`) : null,
      ),
      el(
        'div',
        { class: 'layout' },
        el('section', { class: 'card graph' }, legend(), drawGraph(v)),
        el(
          'div',
          {},
          v.rotation
            ? el('section', { class: 'card', id: 'rotation' }, rotationPanel(v.rotation, v.states))
            : null,
          v.verify ? el('section', { class: 'card' }, checksPanel(v.verify)) : null,
          v.repair
            ? el(
                'section',
                { class: 'card', id: 'repair' },
                el('h2', {}, 'Repair'),
                el(
                  'p',
                  {},
                  `action ${v.repair.action ?? '?'} · severity ${v.repair.severity ?? '?'} · ${v.repair.outcome ?? 'not finished'}`,
                  v.repair.status ? [' · ', badge(v.repair.status)] : null,
                ),
              )
            : null,
          v.links.length
            ? el(
                'section',
                { class: 'card', id: 'links' },
                el('h2', {}, 'Related executions'),
                el(
                  'ul',
                  {},
                  v.links.map((l) =>
                    el(
                      'li',
                      { 'data-link': l.rel },
                      `${LINK_LABEL[l.rel] ?? l.rel}: `,
                      executionLink(l, l.name),
                    ),
                  ),
                ),
              )
            : null,
          el(
            'section',
            { class: 'card history', id: 'history' },
            el('h2', {}, 'History', v.historyOmitted ? ` (latest ${v.history.length})` : ''),
            table(['#', 'at', 'event', 'state', 'error'], history),
          ),
        ),
      ),
    );
  }

  /**
   * The policy log: every authorization decision the cloud made (latest 2,000), denied first,
   * filtered by principal. The filter box is built once per filter, so a poll never takes the
   * text from under the cursor: only the table is redrawn.
   */
  function renderPolicyLog(v, filter) {
    const rows = v.decisions.map((d) =>
      el(
        'tr',
        { 'data-decision': '', 'data-allowed': String(d.allowed), class: d.allowed ? '' : 'denied' },
        el('td', { 'data-col': 'decision' }, badge(d.allowed ? 'allowed' : 'denied')),
        el('td', { class: 'mono', 'data-col': 'principal' }, d.principal),
        el('td', { class: 'mono', 'data-col': 'action' }, d.action),
        el('td', { class: 'mono', 'data-col': 'resource' }, d.resource),
        el('td', { 'data-col': 'by' }, d.by ?? (d.allowed ? '' : 'no statement allows it')),
        el('td', { class: 'muted' }, time(d.time)),
      ),
    );
    const summary = v.enabled
      ? `${v.stats.decisions} decisions since the cloud started, ${v.stats.denies} denied; showing ${v.decisions.length}`
      : 'IAM is off in this cloud (--no-iam): every call is allowed and nothing is logged.';
    const results = el(
      'div',
      { id: 'decisions' },
      el('p', { class: 'muted', id: 'policy-summary' }, summary),
      table(['decision', 'principal', 'action', 'resource', 'deciding statement', 'time'], rows),
    );
    const current = document.getElementById('policy-log');
    if (current && current.getAttribute('data-filter') === filter) {
      document.getElementById('decisions').replaceWith(results);
      return;
    }
    const input = el('input', {
      id: 'principal-filter',
      type: 'search',
      placeholder: 'principal (part of its ARN)',
      value: filter,
      'aria-label': 'filter by principal',
    });
    input.addEventListener('change', () => {
      location.hash = input.value ? `#/policy-log/${encodeURIComponent(input.value)}` : '#/policy-log';
    });
    app.replaceChildren(
      el(
        'section',
        { class: 'card', id: 'policy-log', 'data-filter': filter },
        el('h2', {}, 'Policy log'),
        el('div', { class: 'filter' }, input),
        results,
      ),
    );
  }

  async function refresh(gen) {
    const hash = location.hash || '#/';
    const m = /^#\/execution\/(.+)$/.exec(hash);
    const log = /^#\/policy-log(?:\/(.*))?$/.exec(hash);
    let again = 3000;
    try {
      if (log) {
        const filter = log[1] ? decodeURIComponent(log[1]) : '';
        const view = await load(`api/policy-log?principal=${encodeURIComponent(filter)}`);
        if (gen !== generation) return;
        renderPolicyLog(view, filter);
      } else if (m) {
        const view = await load(`api/execution?arn=${m[1]}`);
        if (gen !== generation) return;
        renderExecution(view);
        again = view.execution.status === 'RUNNING' ? 1000 : 0;
      } else {
        const o = await load('api/overview');
        if (gen !== generation) return;
        renderOverview(o);
      }
      updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      if (gen !== generation) return;
      updated.textContent = `update failed: ${err.message}`;
    }
    if (again > 0) timer = setTimeout(() => refresh(gen), again);
  }

  function route() {
    clearTimeout(timer);
    generation++;
    refresh(generation);
  }

  window.addEventListener('hashchange', route);
  route();
})();
