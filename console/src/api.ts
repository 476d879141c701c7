// Every call carries the user's own key (x-api-key): the console has no privilege of its own.
const KEY_ITEM = "stockpilot.key";

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_ITEM);
}

export function storeKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(KEY_ITEM);
  else sessionStorage.setItem(KEY_ITEM, key);
}

export async function api<T = unknown>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  const key = storedKey();
  if (key) headers["x-api-key"] = key;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method: init.method ?? (init.body !== undefined ? "POST" : "GET"),
    headers,
    body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
  });
  const text = await response.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!response.ok) {
    const err = (data as { error?: { message?: string } } | null)?.error;
    throw new ApiError(response.status, err?.message ?? `${response.status} ${response.statusText}`);
  }
  return data as T;
}

export function query(params: Record<string, string | number | undefined | null | string[]>): string {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) value.forEach((v) => q.append(key, v));
    else q.append(key, String(value));
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}

// --- The shapes the console reads (extra fields are tolerated) ---

export interface Me {
  name: string;
  roles: string[];
  now: string;
}

export interface Page<T> {
  items: T[];
  total: number;
}

export interface Approval {
  id: string;
  subject_type: string;
  subject_id: string;
  run_id: string | null;
  thread_id: string | null;
  status: string;
  requested_by: string;
  decided_by: string | null;
  second_approver: string | null;
  policy_rule: string;
  comment: string | null;
  requested_at: string;
  decided_at: string | null;
  expires_at: string | null;
  payload: Record<string, unknown>;
  [extra: string]: unknown;
}

export interface OrderLine {
  sku: string;
  qty: number;
  expected_units_saved: number;
  expected_value: number;
  cost: number;
  explanation: {
    dest_days_to_stockout_before?: number | null;
    dest_days_to_stockout_after?: number | null;
    source_atp_after?: number;
    unsold_risk?: number;
  };
}

export interface TransferOrder {
  id: string;
  source: string;
  dest: string;
  status: string;
  reason: string;
  expected_value: number;
  cost: number;
  lead_time_hours: number;
  run_id: string | null;
  requested_by: string;
  external_ref: string | null;
  created_at: string;
  lines: OrderLine[];
}

export interface Run {
  id: string;
  assistant_id: string;
  thread_id: string;
  trigger: string;
  status: string;
  input: Record<string, unknown>;
  error: string | null;
  created_at: string;
  updated_at: string;
}

export interface Style {
  code: string;
  name_en: string;
  name_zh: string;
  category: string;
  price: number;
  cost: number;
  size_run: string[];
  rain_sensitive: boolean;
}

export interface Category {
  code: string;
  name_en: string;
  name_zh: string;
  rain_sensitive: boolean;
}

export interface Sku {
  code: string;
  style: string;
  colour: string;
  size: string;
  size_index: number;
}

export interface Catalog {
  categories: Category[];
  styles: Style[];
  skus: Sku[];
}

export interface LocationHealth {
  code: string;
  kind: string;
  name_en: string;
  name_zh: string;
  city: string;
  region: string;
  tier: string;
  lat: number;
  lon: number;
  on_hand: number;
  atp: number;
  in_transit_in: number;
  avg_daily_sales: number;
  cover_days: number | null;
}

export interface City {
  code: string;
  name_en: string;
  name_zh: string;
  region: string;
  lat: number;
  lon: number;
}

export interface Network {
  as_of: string;
  category: string | null;
  cities: City[];
  locations: LocationHealth[];
}

export interface AlertRecord {
  alert_id: string;
  sender: string;
  type: string;
  payload: Record<string, unknown>;
  received_at: string;
  run_id: string;
}

export interface AuditEvent {
  id: number;
  at: string;
  actor: string;
  kind: string;
  subject_type: string | null;
  subject_id: string | null;
  run_id: string | null;
  payload: Record<string, unknown>;
}

export interface RunStep {
  step: number | null;
  completed: string[];
  waiting: string[];
  next: string[];
  created_at: string | null;
}

export interface ForecastPoint {
  date: string;
  mean: number;
  quantiles: Record<string, number>;
  baseline: number | null;
  rain_uplift: number | null;
}

export interface Forecast {
  as_of: string;
  model: string;
  series: {
    location: string;
    style: string;
    points: ForecastPoint[];
    total_mean: number;
    baseline_mean: number | null;
    rain_uplift: number | null;
    rain: { explanation: string } | null;
  }[];
  weather: { city: string; date: string; source: string; precipitation_mm: number | null; band: string | null }[];
}

export interface HistoryDay {
  date: string;
  units: number;
  stockout_locations: number;
  precipitation_mm: number | null;
  rain_band: string | null;
}
