/** Text made safe to put inside HTML, an attribute included; used by the views and by mail bodies. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
