import { Eta, type EtaConfig, type Options } from 'eta';

/**
 * Eta with its include paths remembered by a plain key: Eta's own path cache builds its key with JSON.stringify at
 * every include (fifty a list page, one per row's confirmation cell), a tenth of the page's rendering. A path is pure
 * string work (no file is read), so remembering it is right with or without the template cache.
 */
export function createViewEngine(config: Partial<EtaConfig>): Eta {
  const eta = new Eta(config);
  const resolve = eta.resolvePath;
  const paths = new Map<string, string>();
  eta.resolvePath = function resolvePath(template: string, options?: Partial<Options>): string {
    const key = `${options?.filepath ?? ''}\0${template}`;
    let resolved = paths.get(key);
    if (resolved === undefined) paths.set(key, (resolved = resolve.call(this, template, options)));
    return resolved;
  };
  return eta;
}
