/**
 * The exact answers of the Feishu custom-bot webhook, as documented or observed
 * (shared/docs/feishu-webhook.md §1.4, §2.4, §3, §4.3). One table, so every check in the double
 * answers with the same status and body a real bot would, and tests can compare against it.
 */

export interface Answer {
  readonly status: number;
  readonly body: Readonly<Record<string, unknown>>;
}

function business(code: number, msg: string): Answer {
  // Business errors come back as HTTP 200 with a non-zero `code` (doc §4.3, observed).
  return { status: 200, body: { code, data: {}, msg } };
}

export const ANSWERS = {
  success: {
    status: 200,
    body: { StatusCode: 0, StatusMessage: "success", code: 0, data: {}, msg: "success" },
  },
  tokenInvalid: business(19001, "param invalid: incoming webhook access token invalid"),
  tooLarge: business(19036, "The message exceeds the size limit of 30KB"),
  // HTTP status of the parse failure is not documented; 200 like the other business errors.
  badRequest: business(9499, "Bad Request"),
  signFailed: business(19021, "sign match fail or timestamp is not within one hour from current time"),
  msgTypeMissing: business(19002, "params error, msg_type need"),
  msgTypeInvalid: business(19002, "param invalid: msg_type"),
  cardInvalid: business(19002, "params error, unknown card value"),
  // Not an observed text: the doc names no message for a bad text/post/image content shape.
  contentInvalid: business(19002, "param invalid: content"),
  keywordsMissing: business(19024, "Key Words Not Found"),
  // The webhook's answer to a refused @all is undocumented; the app API's code for the same
  // refusal is 11235 (doc §4.3, S5), so the double uses it.
  atAllRefused: business(11235, "this group is set to only admin can mention @All"),
  rateLimited11232: business(11232, "frequency limited psm[lark.oapi.app_platform_runtime]appID[1500]"),
  // Observed at HTTP 400, and with StatusCode 0 beside the real code: a client that trusts
  // StatusCode over code takes this failure for a success (doc §1.4).
  rateLimited9499: {
    status: 400,
    body: { StatusCode: 0, StatusMessage: "", code: 9499, msg: "too many request" },
  },
} as const satisfies Record<string, Answer>;

/** The HTML page a gateway in front of the service answers with (not JSON). */
export function gatewayHtml(status: number): string {
  const title = `${status} ${STATUS_TEXT[status] ?? "Error"}`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n</body>\r\n</html>\r\n`;
}

const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Temporarily Unavailable",
  504: "Gateway Time-out",
};
