import t from 'tap';
import { adminClient, buildTestApp, Client, seedServers, text, viewerClient } from './helper.js';

/**
 * The routes anyone may use. Adding a public route means adding it here, on purpose; every other route must
 * refuse an anonymous request, which the next test proves for each route the app registers.
 */
const publicRoutes = [
  'GET /',
  'GET /healthz',
  'GET /language',
  'GET /login',
  'POST /login',
  'GET /setup/:token',
  'POST /setup/:token',
  'GET /confirm/:token',
  'POST /confirm/:token',
  'GET /public/*',
  'GET /vendor/*',
  'GET /api/openapi.json',
  'GET /api/docs',
  // Behind its own bearer token (RELAIS_METRICS_TOKEN), checked by the route; 404 when it is not set.
  'GET /metrics',
];

function sample(url: string): string {
  return url.replace(/:token\b/g, 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA').replace(/:\w+/g, '1').replace(/\*/g, 'app.css');
}

t.test('only the intended routes are public', async (t) => {
  const app = await buildTestApp(t);
  await app.ready();
  const open = app.registeredRoutes
    .filter((r) => r.access === 'public' && r.method !== 'HEAD')
    .map((r) => `${r.method} ${r.url}`)
    .sort();
  t.same(open, [...publicRoutes].sort());
});

t.test('every non-public route refuses an anonymous request', async (t) => {
  const app = await buildTestApp(t);
  await app.ready();
  const guarded = app.registeredRoutes.filter((r) => r.access !== 'public' && r.access !== 'token');
  t.ok(guarded.length >= 25, `${guarded.length} guarded routes found`);
  const anonymous = new Client(app);
  await anonymous.get('/login'); // a CSRF token of its own: the refusal must come from the access check, not from CSRF
  for (const route of guarded) {
    const url = sample(route.url);
    const res = await app.inject({
      method: route.method as 'GET',
      url,
      headers: { cookie: [...anonymous.cookies].map(([k, v]) => `${k}=${v}`).join('; '), 'content-type': 'application/x-www-form-urlencoded' },
      payload: route.method === 'POST' ? `_csrf=${encodeURIComponent(anonymous.csrfToken)}` : undefined,
    });
    t.equal(res.statusCode, 303, `${route.method} ${route.url} answers 303`);
    const location = String(res.headers.location);
    if (route.method === 'POST') t.equal(location, '/login', `${route.method} ${route.url} goes to the login page`);
    else t.equal(location, `/login?next=${encodeURIComponent(url)}`, `${route.method} ${route.url} goes to the login page and back`);
  }
  t.equal((await app.repositories.smtpServers.listServers()).total, 0, 'nothing was written');
});

t.test('every API route refuses a request without a token with 401 and a problem, a session cookie notwithstanding', async (t) => {
  const app = await buildTestApp(t);
  await app.ready();
  const tokenRoutes = app.registeredRoutes.filter((r) => r.access === 'token' && r.method !== 'HEAD');
  t.ok(tokenRoutes.length >= 3, `${tokenRoutes.length} API routes found`);
  t.ok(tokenRoutes.every((r) => r.url.startsWith('/api/')), 'every token route is under /api');
  const admin = await adminClient(app);
  for (const route of tokenRoutes) {
    const res = await app.inject({
      method: route.method as 'GET',
      url: sample(route.url),
      headers: { cookie: [...admin.cookies].map(([k, v]) => `${k}=${v}`).join('; '), 'content-type': 'application/json', 'x-csrf-token': admin.csrfToken },
      payload: route.method === 'POST' ? '{}' : undefined,
    });
    t.equal(res.statusCode, 401, `${route.method} ${route.url} answers 401`);
    t.equal(res.headers['www-authenticate'], 'Bearer realm="relais"', `${route.method} ${route.url} asks for a bearer token`);
    t.match(res.headers['content-type'], /^application\/problem\+json/);
    t.equal(JSON.parse(res.body).status, 401);
  }
});

t.test('a viewer gets 403 on every administrator route, and reaches every viewer page', async (t) => {
  const app = await buildTestApp(t);
  await seedServers(app, 1);
  await app.ready();
  const viewer = await viewerClient(app);
  const cookie = () => [...viewer.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  for (const route of app.registeredRoutes.filter((r) => r.access === 'admin')) {
    const res = await app.inject({
      method: route.method as 'GET',
      url: sample(route.url),
      headers: { cookie: cookie(), 'content-type': 'application/x-www-form-urlencoded' },
      payload: route.method === 'POST' ? `_csrf=${encodeURIComponent(viewer.csrfToken)}&title=Pirate` : undefined,
    });
    t.equal(res.statusCode, 403, `${route.method} ${route.url} is refused to a viewer`);
    if (route.method !== 'HEAD') t.match(text(res.body), 'Votre compte est en lecture seule', `${route.method} ${route.url} says why`);
  }
  for (const route of app.registeredRoutes.filter((r) => r.access === 'viewer' && r.method === 'GET' && !r.url.includes(':'))) {
    const res = await viewer.get(route.url);
    t.equal(res.statusCode, 200, `a viewer may open ${route.url}`);
  }
  const { rows } = await app.repositories.smtpServers.listServers();
  t.same(rows.map((r) => r.title), ['Serveur 001'], 'the refused requests changed nothing');
});

t.test('viewer vs admin on each server action: a viewer lists, searches and picks columns, and sees no button it cannot use', async (t) => {
  const app = await buildTestApp(t);
  const [server] = await seedServers(app, 2);
  const viewer = await viewerClient(app);
  const admin = await adminClient(app);

  const list = await viewer.get('/smtp-servers');
  t.equal(list.statusCode, 200);
  t.match(text(list.body), 'Serveur 001');
  for (const forbidden of [
    '/smtp-servers/new',
    `/smtp-servers/${server!.id}/edit`,
    `/smtp-servers/${server!.id}/delete`,
    `/smtp-servers/${server!.id}/duplicate`,
    `/smtp-servers/${server!.id}/confirmation`,
    `/smtp-servers/${server!.id}/test`,
    'href="/users"',
    'href="/audit"',
  ]) {
    t.notMatch(list.body, forbidden, `the viewer's page has no ${forbidden}`);
  }
  t.match(list.body, 'action="/logout"', 'the viewer can sign out');
  t.match(text(list.body), 'Connecté : Lecteur 1 (Lecture seule)');

  const search = await viewer.get('/smtp-servers?q=002', { 'hx-request': 'true', 'hx-target': 'servers-table' });
  t.equal(search.statusCode, 200);
  t.match(text(search.body), 'Serveur 002');
  t.notMatch(text(search.body), 'Serveur 001', 'the search filtered the rows');

  const columns = await viewer.post('/smtp-servers/columns', { columns: ['id', 'title'] });
  t.equal(columns.statusCode, 303, 'a viewer may choose columns');

  const adminList = await admin.get('/smtp-servers');
  for (const allowed of [
    '/smtp-servers/new',
    `/smtp-servers/${server!.id}/edit`,
    `/smtp-servers/${server!.id}/delete`,
    `/smtp-servers/${server!.id}/duplicate`,
    `/smtp-servers/${server!.id}/confirmation`,
    `/smtp-servers/${server!.id}/test`,
    'href="/users"',
    'href="/audit"',
  ]) {
    t.match(adminList.body, allowed, `the admin's page has ${allowed}`);
  }

  const attempts: [string, () => Promise<{ statusCode: number }>][] = [
    ['new', () => viewer.get('/smtp-servers/new')],
    ['create', () => viewer.post('/smtp-servers', { title: 'Pirate', host: 'smtp.pirate.fr' })],
    ['edit', () => viewer.get(`/smtp-servers/${server!.id}/edit`)],
    ['update', () => viewer.post(`/smtp-servers/${server!.id}`, { title: 'Pirate' })],
    ['duplicate', () => viewer.post(`/smtp-servers/${server!.id}/duplicate`)],
    ['delete page', () => viewer.get(`/smtp-servers/${server!.id}/delete`)],
    ['delete', () => viewer.post(`/smtp-servers/${server!.id}/delete`)],
    ['send the confirmation', () => viewer.post(`/smtp-servers/${server!.id}/confirmation`)],
    ['test', () => viewer.post(`/smtp-servers/${server!.id}/test`)],
    ['users', () => viewer.get('/users')],
    ['audit', () => viewer.get('/audit')],
  ];
  for (const [name, attempt] of attempts) t.equal((await attempt()).statusCode, 403, `a viewer gets 403 on ${name}`);
  const { rows } = await app.repositories.smtpServers.listServers();
  t.same(rows.map((r) => r.title), ['Serveur 001', 'Serveur 002']);

  const htmx = await viewer.post(`/smtp-servers/${server!.id}/delete`, {}, { 'hx-request': 'true' });
  t.equal(htmx.statusCode, 403, 'htmx gets the 403 page too (app.js shows it)');
});

t.test('anonymous htmx requests are sent to the login page with HX-Redirect', async (t) => {
  const app = await buildTestApp(t);
  const res = await app.inject({
    url: '/smtp-servers?q=vente',
    headers: { 'hx-request': 'true', 'hx-target': 'servers-table', 'hx-current-url': 'http://relais.test/smtp-servers?q=vent' },
  });
  t.equal(res.statusCode, 200);
  t.equal(res.headers['hx-redirect'], `/login?next=${encodeURIComponent('/smtp-servers?q=vent')}`);
  t.equal(res.body, '', 'no fragment for an anonymous request');
  t.equal(res.headers['cache-control'], 'no-store');
});

t.test('unknown URLs: an anonymous visitor is sent to sign in, a signed-in user gets the 404 page', async (t) => {
  const app = await buildTestApp(t);
  const anonymous = await app.inject({ url: '/does-not-exist' });
  t.equal(anonymous.statusCode, 303, 'an anonymous visitor learns nothing about which URLs exist');
  t.equal(anonymous.headers.location, '/login?next=%2Fdoes-not-exist');
  const viewer = await viewerClient(app);
  const known = await viewer.get('/does-not-exist');
  t.equal(known.statusCode, 404);
  t.match(text(known.body), 'Page introuvable');
});

t.test('static files, the health check and the login page need no session', async (t) => {
  const app = await buildTestApp(t);
  for (const url of ['/public/app.css', '/public/app.js', '/vendor/htmx.min.js', '/healthz', '/login']) {
    const res = await app.inject({ url });
    t.equal(res.statusCode, 200, `${url} is open`);
    t.notOk(String(res.headers['set-cookie'] ?? '').includes('relais_session'), `${url} sets no session`);
  }
  const login = await app.inject({ url: '/login' });
  t.notMatch(login.body, 'action="/logout"', 'no signed-in navigation on the login page');
  t.notMatch(login.body, 'href="/smtp-servers"', 'no link into the application for an anonymous visitor');
});

t.test('signed-in pages are not stored by caches', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const res = await admin.get('/smtp-servers');
  t.equal(res.headers['cache-control'], 'no-store');
});
