// What every view shares: who is signed in, the service's clock, the catalogue and the network.
import { api, query, type Catalog, type Me, type Network, type Sku, type Style } from "./api";

export const session = {
  me: null as Me | null,
  /** service clock − browser clock, ms: expiries count down on the service's clock. */
  clockOffset: 0,
};

export function serviceNow(): number {
  return Date.now() + session.clockOffset;
}

export function canDecide(): boolean {
  const roles = session.me?.roles ?? [];
  return roles.includes("approver") || roles.includes("admin");
}

/** Starting a conversation (a thread) takes the ops role, as the API rules. */
export function canChat(): boolean {
  const roles = session.me?.roles ?? [];
  return roles.includes("ops") || roles.includes("admin");
}

export async function loadMe(): Promise<Me> {
  const me = await api<Me>("/v1/me");
  session.me = me;
  session.clockOffset = new Date(me.now).getTime() - Date.now();
  return me;
}

let catalog: Promise<Catalog> | null = null;
const skus = new Map<string, Sku>();

export function getCatalog(): Promise<Catalog> {
  catalog ??= api<Catalog>("/v1/catalog");
  return catalog;
}

export async function styleOf(code: string): Promise<Style | undefined> {
  return (await getCatalog()).styles.find((s) => s.code === code);
}

/** SKU → style and size, asked of the service once per SKU. */
export async function resolveSkus(codes: string[]): Promise<Map<string, Sku>> {
  const missing = [...new Set(codes)].filter((c) => !skus.has(c));
  for (let i = 0; i < missing.length; i += 200) {
    const found = await api<Catalog>(`/v1/catalog${query({ sku: missing.slice(i, i + 200) })}`);
    found.skus.forEach((sku) => skus.set(sku.code, sku));
  }
  return skus;
}

let network: Promise<Network> | null = null;

/** Where every location is (no stock health): for names and arrows. */
export function getPlaces(): Promise<Network> {
  network ??= api<Network>("/v1/network");
  return network;
}

export function resetCaches(): void {
  catalog = null;
  network = null;
  skus.clear();
}
