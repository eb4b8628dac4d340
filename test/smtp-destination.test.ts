import t from 'tap';
import { destinationPolicyOf, embeddedIpv4, refusalOf } from '../src/smtp/destination.js';
import { adminClient, buildTestApp, text } from './helper.js';
import { formFor, startRawService, type SmtpPeer } from './smtp-peer.js';

const closed = destinationPolicyOf(false, []);

t.test('IPv6 addresses that carry an IPv4 address are judged by the IPv4 rules', async (t) => {
  const cases = [
    ['64:ff9b::a9fe:a9fe', 'metadata', 'NAT64 (64:ff9b::/96)'],
    ['64:ff9b::169.254.169.254', 'metadata', 'NAT64, dotted'],
    ['64:ff9b::7f00:1', 'loopback', 'NAT64 to loopback'],
    ['64:ff9b:1::7f00:1', 'loopback', 'local-use NAT64 (64:ff9b:1::/48), /96 position'],
    ['64:ff9b:1:7f00:0:100::', 'loopback', 'local-use NAT64, /48 position (RFC 6052)'],
    ['64:ff9b:1::a9fe:102', 'linkLocal', 'local-use NAT64 to link-local'],
    ['2002:7f00:1::', 'loopback', '6to4 (2002::/16)'],
    ['2002:a9fe:a9fe::1', 'metadata', '6to4 to metadata'],
    ['2002::', 'unspecified', '6to4 of 0.0.0.0'],
    ['::7f00:1', 'loopback', 'IPv4-compatible (::/96)'],
    ['::127.0.0.1', 'loopback', 'IPv4-compatible, dotted'],
    ['::a9fe:1', 'linkLocal', 'IPv4-compatible link-local'],
    ['::ffff:7f00:1', 'loopback', 'IPv4-mapped (::ffff:0:0/96)'],
    ['::ffff:0:7f00:1', 'loopback', 'IPv4-translated (::ffff:0:0:0/96)'],
    ['::ffff:0:a9fe:a9fe', 'metadata', 'IPv4-translated metadata'],
  ] as const;
  for (const [address, kind, what] of cases) t.equal(refusalOf(address, closed), kind, `${address}: ${what}`);

  for (const address of ['64:ff9b::808:808', '2002:a00:1::', '64:ff9b::c0a8:101', '2001:db8::7f00:1', '2a00:1450:4007::1b', '::ffff:10.1.2.3']) {
    t.equal(refusalOf(address, closed), null, `${address} carries a public or private address: allowed`);
  }
  t.same(embeddedIpv4('2001:db8::1'), [], 'an ordinary IPv6 address carries none');
  t.same(embeddedIpv4('not an address'), []);
  t.equal(refusalOf('64:ff9b::7f00:1', destinationPolicyOf(false, ['127.0.0.0/8'])), null, 'the allow-list of the IPv4 network allows it');
  t.equal(refusalOf('2002:7f00:1::', destinationPolicyOf(true, [])), null, 'so does RELAIS_SMTP_ALLOW_PRIVATE=true');
});

t.test('the connection test refuses a 6to4 or NAT64 spelling of loopback without dialling, and says which setting allows it', async (t) => {
  const service = await startRawService(t, '220 local.relais.test ESMTP\r\n');
  const app = await buildTestApp(t, { RELAIS_SMTP_ALLOWED_NETWORKS: '' });
  const admin = await adminClient(app);
  for (const host of ['[2002:7f00:1::]', '[64:ff9b::7f00:1]', '[64:ff9b::a9fe:a9fe]']) {
    const res = await admin.post('/smtp-servers/new/test', formFor({ port: service.port } as SmtpPeer, { host, authentication: 'none', username: '', password: '' }));
    t.match(text(res.body), `Relais ne se connecte pas à ${host.slice(1, -1)}`, host);
    t.match(text(res.body), 'RELAIS_SMTP_ALLOWED_NETWORKS');
  }
  t.equal(service.connections(), 0, 'nothing was dialled');
});
