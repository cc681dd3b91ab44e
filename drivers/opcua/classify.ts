import { Quality } from '../../core/quality.js';

/** What went wrong with a connect attempt or a live session, for health and logs. Pure. */
export interface OpcuaFault {
  /** errorsByKind key: a status code name ("BadCertificateUntrusted") or a short kind ("connection_refused"). */
  kind: string;
  /** Quality of the readings the outage produces. */
  quality: number;
  /** What an operator should do, appended to the health lastError. */
  hint: string;
}

const KNOWN: { match: RegExp; kind: string; hint: string }[] = [
  { match: /BadCertificateUntrusted|certificate.*untrusted|BadSecurityChecksFailed.*certificate/i, kind: 'BadCertificateUntrusted', hint: 'the server certificate is not trusted: it was put in {pki}/rejected; check its thumbprint with the server, then run `jinyun certs trust`' },
  { match: /BadCertificateTimeInvalid|BadCertificateIssuerTimeInvalid|certificate.*(expired|not yet valid)/i, kind: 'BadCertificateTimeInvalid', hint: 'a certificate is expired or not yet valid: renew it, or fix this machine\'s clock' },
  { match: /BadCertificateRevocationUnknown|BadCertificateIssuerRevocationUnknown/i, kind: 'BadCertificateRevocationUnknown', hint: 'no CRL for the issuer: put the CA CRL in {pki}/issuers/crl (or trusted/crl)' },
  { match: /BadCertificateRevoked/i, kind: 'BadCertificateRevoked', hint: 'the certificate was revoked by its CA' },
  { match: /BadCertificateUriInvalid|BadCertificateHostNameInvalid/i, kind: 'BadCertificateUriInvalid', hint: 'the certificate URI or host name does not match the endpoint' },
  { match: /BadCertificateInvalid|BadCertificateUseNotAllowed/i, kind: 'BadCertificateInvalid', hint: 'the certificate is malformed or not allowed for this use' },
  { match: /BadUserAccessDenied|BadIdentityTokenRejected|BadIdentityTokenInvalid|BadUserSignatureInvalid/i, kind: 'BadUserAccessDenied', hint: 'the server refused the user identity: check user.type and the credentials' },
  { match: /BadSecurityPolicyRejected|BadSecurityModeRejected|cannot find endpoint|no endpoint|endpoint.*not found/i, kind: 'BadSecurityPolicyRejected', hint: 'the server offers no endpoint with this securityMode/securityPolicy: list them with `jinyun browse opc.tcp://HOST:PORT --endpoints`' },
  { match: /BadTooManySessions|BadTooManySubscriptions|BadTooManyOperations/i, kind: 'BadTooManySessions', hint: 'the server is out of sessions or subscriptions' },
  { match: /ECONNREFUSED/i, kind: 'connection_refused', hint: 'nothing listens at the endpoint (server down or wrong port)' },
  { match: /ENOTFOUND|EAI_AGAIN/i, kind: 'host_not_found', hint: 'the host name does not resolve' },
  { match: /EHOSTUNREACH|ENETUNREACH|ECONNRESET|EPIPE|socket/i, kind: 'connection_lost', hint: 'the network connection broke' },
  { match: /timeout|timed out|took longer than|BadTimeout/i, kind: 'timeout', hint: 'no answer in time (server busy, firewall dropping packets, or requestTimeoutMs too short)' },
];

export function classifyOpcuaError(message: string): OpcuaFault {
  for (const k of KNOWN) {
    if (k.match.test(message)) {
      const quality = k.kind.startsWith('BadCertificate') || k.kind === 'BadUserAccessDenied' || k.kind === 'BadSecurityPolicyRejected' ? Quality.BadConfigurationError : k.kind === 'timeout' ? Quality.BadTimeout : Quality.BadNotConnected;
      return { kind: k.kind, quality, hint: k.hint };
    }
  }
  return { kind: 'connect_failed', quality: Quality.BadNotConnected, hint: '' };
}

/** "BadCertificateUntrusted: <message> (hint)" with {pki} filled in. */
export function describeFault(fault: OpcuaFault, message: string, pkiDir: string): string {
  const hint = fault.hint.replaceAll('{pki}', pkiDir);
  const head = message.includes(fault.kind) ? message : `${fault.kind}: ${message}`;
  return hint ? `${head} (${hint})` : head;
}
