import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A key and its certificate, as PEM text, and where the certificate file is. */
export interface KeyPair {
  key: string;
  cert: string;
  certFile: string;
}

export interface TlsFixtures {
  dir: string;
  /** A private CA, as an internal company would run: trusted only through RELAIS_SMTP_CA_FILE. */
  caFile: string;
  /** Signed by the CA, for 127.0.0.1 and localhost. */
  server: KeyPair;
  /** Signed by the CA, but for another name only. */
  otherName: KeyPair;
  /** Signed by the CA, valid for one day in 2020. */
  expired: KeyPair;
  /** Signed by itself. */
  selfSigned: KeyPair;
  /** Signed by the CA for 127.0.0.1 and localhost, valid from now for this many days (made once per number). */
  expiringIn(days: number): KeyPair;
}

let cached: TlsFixtures | null = null;

function openssl(dir: string, args: string[]) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/**
 * Node cannot make certificates by itself, so the tests make theirs with the openssl command (Debian's openssl
 * package; CI installs it) in a temporary folder, once per test process. Nothing secret is committed.
 */
export function tlsFixtures(): TlsFixtures {
  if (cached) return cached;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relais-tls-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

  openssl(dir, ['req', '-x509', ...ecKey, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '36500', '-subj', '/CN=Relais Test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  fs.mkdirSync(path.join(dir, 'issued'));
  fs.writeFileSync(path.join(dir, 'index.txt'), '');
  fs.writeFileSync(path.join(dir, 'serial'), '1000\n');
  fs.writeFileSync(
    path.join(dir, 'ca.cnf'),
    [
      '[ ca ]',
      'default_ca = test_ca',
      '[ test_ca ]',
      'database = ./index.txt',
      'new_certs_dir = ./issued',
      'serial = ./serial',
      'default_md = sha256',
      'policy = any_name',
      'copy_extensions = copy',
      'unique_subject = no',
      '[ any_name ]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );

  const read = (name: string): KeyPair => ({
    key: fs.readFileSync(path.join(dir, `${name}.key`), 'utf8'),
    cert: fs.readFileSync(path.join(dir, `${name}.pem`), 'utf8'),
    certFile: path.join(dir, `${name}.pem`),
  });

  function signed(name: string, cn: string, san: string, dates: string[]) {
    openssl(dir, ['req', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`,
      '-addext', `subjectAltName=${san}`, '-addext', 'extendedKeyUsage=serverAuth', '-addext', 'basicConstraints=CA:FALSE']);
    openssl(dir, ['ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-in', `${name}.csr`, '-out', `${name}.pem`, '-notext', ...dates]);
    return read(name);
  }

  const server = signed('server', 'mail.relais.test', 'DNS:mail.relais.test,DNS:localhost,IP:127.0.0.1', ['-days', '36500']);
  const otherName = signed('other', 'other.relais.test', 'DNS:other.relais.test', ['-days', '36500']);
  const expired = signed('expired', 'expired.relais.test', 'IP:127.0.0.1', ['-startdate', '20200101000000Z', '-enddate', '20200102000000Z']);
  openssl(dir, ['req', '-x509', ...ecKey, '-keyout', 'self.key', '-out', 'self.pem', '-days', '36500', '-subj', '/CN=self.relais.test',
    '-addext', 'subjectAltName=DNS:self.relais.test,IP:127.0.0.1']);
  const byDays = new Map<number, KeyPair>();
  const expiringIn = (days: number) => {
    const made = byDays.get(days) ?? signed(`days-${days}`, 'mail.relais.test', 'DNS:mail.relais.test,DNS:localhost,IP:127.0.0.1', ['-days', String(days)]);
    byDays.set(days, made);
    return made;
  };
  cached = { dir, caFile: path.join(dir, 'ca.pem'), server, otherName, expired, selfSigned: read('self'), expiringIn };
  return cached;
}
