import { useState } from "react";
import { PRESETS, type PresetId, type RangeChoice } from "./range";
import type { Bucket } from "./types";

interface Props {
  value: RangeChoice;
  onChange(choice: RangeChoice): void;
}

/** Presets (the last N hours or days) or a custom UTC range with its bucket. */
export function RangePicker({ value, onChange }: Props) {
  const [from, setFrom] = useState(value.kind === "custom" ? value.from : "");
  const [to, setTo] = useState(value.kind === "custom" ? value.to : "");
  const [bucket, setBucket] = useState<Bucket>(value.kind === "custom" ? value.bucket : "hour");
  const selected = value.kind === "preset" ? value.id : "custom";
  return (
    <div className="range-picker">
      <label>
        Range{" "}
        <select
          data-testid="range-preset"
          value={selected}
          onChange={(e) => {
            const id = e.target.value;
            if (id === "custom") onChange({ kind: "custom", from, to, bucket });
            else onChange({ kind: "preset", id: id as PresetId });
          }}
        >
          {PRESETS.map((p) => (
            <option key={p.id} value={p.id}>
              {p.label}
            </option>
          ))}
          <option value="custom">Custom (UTC)…</option>
        </select>
      </label>
      {value.kind === "custom" && (
        <form
          className="range-custom"
          onSubmit={(e) => {
            e.preventDefault();
            onChange({ kind: "custom", from, to, bucket });
          }}
        >
          <label>
            from <input type="datetime-local" data-testid="range-from" value={from} onChange={(e) => setFrom(e.target.value)} />
          </label>
          <label>
            to <input type="datetime-local" data-testid="range-to" value={to} onChange={(e) => setTo(e.target.value)} />
          </label>
          <select data-testid="range-bucket" value={bucket} onChange={(e) => setBucket(e.target.value as Bucket)}>
            <option value="hour">by hour</option>
            <option value="day">by day</option>
          </select>
          <button type="submit" data-testid="range-apply">
            Apply
          </button>
        </form>
      )}
    </div>
  );
}
