import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import type { RelaisConfig } from '../config.js';
import type { Authentication, Security } from '../smtp-servers/validation.js';
import type { NodemailerAuth } from './credentials.js';
import { connectHost, destinationPolicyOf, type DestinationPolicy } from './destination.js';
import type { OAuthSettings } from './oauth-tokens.js';

/** What it takes to reach a server and speak for its address: a server row, or the values typed in its form. */
export interface SmtpEndpoint {
  host: string;
  port: number;
  security: Security;
  authentication: Authentication;
  email: string;
  username: string;
  verifyCertificate: boolean;
}

/** How Relais talks to SMTP servers: time-outs, extra trusted CAs and the name it gives in EHLO. */
export interface SmtpSettings {
  connectTimeoutMs: number;
  greetingTimeoutMs: number;
  /** Waiting for any other reply (AUTH, MAIL FROM…); some servers pause on purpose after a wrong password. */
  commandTimeoutMs: number;
  /** PEM text of RELAIS_SMTP_CA_FILE, trusted on top of the system's CAs. */
  extraCa: string | null;
  clientName: string;
  /** Which addresses SMTP connections may go to (loopback, link-local and metadata are refused by default). */
  destinations: DestinationPolicy;
  /** With STARTTLS or none, no greeting this soon means it is time to try whether the port speaks implicit TLS. */
  implicitTlsHintMs: number;
}

/** The EHLO name: the machine's name when it looks like one (has a dot), else an address literal, as nodemailer does. */
function defaultClientName(): string {
  const name = os.hostname();
  return name.includes('.') && /^[a-z0-9.-]+$/i.test(name) ? name : '[127.0.0.1]';
}

/** Reads the settings once at start; an unreadable CA file stops the start with a message that says which file. */
export function smtpSettingsFrom(config: RelaisConfig): SmtpSettings {
  let extraCa: string | null = null;
  if (config.smtpCaFile) {
    try {
      extraCa = fs.readFileSync(config.smtpCaFile, 'utf8');
    } catch (err) {
      throw new Error(`RELAIS_SMTP_CA_FILE: cannot read ${config.smtpCaFile} (${(err as Error).message})`);
    }
    if (!extraCa.includes('-----BEGIN CERTIFICATE-----')) {
      throw new Error(`RELAIS_SMTP_CA_FILE: ${config.smtpCaFile} holds no PEM certificate`);
    }
  }
  return {
    connectTimeoutMs: config.smtpConnectTimeoutMs,
    greetingTimeoutMs: config.smtpGreetingTimeoutMs,
    commandTimeoutMs: Math.max(config.smtpGreetingTimeoutMs, 15_000),
    extraCa,
    clientName: defaultClientName(),
    destinations: destinationPolicyOf(config.smtpAllowPrivate, config.smtpAllowedNetworks),
    // A plain SMTP server greets at once and an implicit-TLS one answers a ClientHello at once: a second is plenty.
    implicitTlsHintMs: Math.min(1000, config.smtpGreetingTimeoutMs),
  };
}

export { connectHost };

/**
 * TLS options shared by the test and the real send. A custom `ca` replaces Node's trusted list, so the system's
 * CAs are kept alongside the extra ones; otherwise configuring one internal CA would break every public server.
 */
export function tlsOptionsFor(endpoint: SmtpEndpoint, settings: SmtpSettings): tls.ConnectionOptions {
  const host = connectHost(endpoint.host);
  return {
    rejectUnauthorized: endpoint.verifyCertificate,
    // SNI takes a name, never an address (RFC 6066).
    servername: net.isIP(host) ? undefined : host,
    ...(settings.extraCa ? { ca: [...tls.rootCertificates, settings.extraCa] } : {}),
  };
}

/** Where OAuth2 tokens come from, read once at start. */
export function oauthSettingsFrom(config: RelaisConfig): OAuthSettings {
  return {
    microsoftAuthority: config.oauthMicrosoftAuthority,
    googleTokenUrl: config.oauthGoogleTokenUrl,
    timeoutMs: Math.max(config.smtpConnectTimeoutMs, 10_000),
    // Microsoft's and Google's tokens last an hour: five minutes before, the next use fetches a new one.
    refreshMarginMs: 5 * 60_000,
  };
}

/**
 * nodemailer's SMTP transport for this server, its security mode mapped to what nodemailer expects. `auth`: the
 * password (a string), or what smtpAuthFor gave (a password or XOAUTH2). `address` is the
 * one resolveDestination checked: nodemailer connects there and keeps the host name for SNI and the certificate.
 */
export function transportOptionsFor(endpoint: SmtpEndpoint, auth: string | null | NodemailerAuth | undefined, settings: SmtpSettings, address?: string) {
  const nodemailerAuth = auth !== null && typeof auth === 'object' ? auth : endpoint.authentication === 'password' ? { user: endpoint.username, pass: auth ?? '' } : undefined;
  return {
    host: address ?? connectHost(endpoint.host),
    port: endpoint.port,
    secure: endpoint.security === 'tls',
    requireTLS: endpoint.security === 'starttls',
    ignoreTLS: endpoint.security === 'none',
    tls: tlsOptionsFor(endpoint, settings),
    name: settings.clientName,
    connectionTimeout: settings.connectTimeoutMs,
    greetingTimeout: settings.greetingTimeoutMs,
    socketTimeout: settings.commandTimeoutMs * 2,
    ...(nodemailerAuth ? { auth: nodemailerAuth } : {}),
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}
