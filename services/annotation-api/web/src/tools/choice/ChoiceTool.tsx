import type { ChoiceGroup } from "../../api/types";
import { isChoice, newRegionId, type EditorRegion, type RegionAction } from "../../editor/regions";
import type { ToolProps } from "../types";
import { choiceKeys, nextChoiceValue } from "./choiceKeys";

interface GroupProps {
  group: ChoiceGroup;
  value: string | string[] | undefined;
  keys: ReadonlyMap<string, string>;
  invalid: boolean;
  dispatch(action: RegionAction): void;
}

function ChoiceGroupField({ group, value, keys, invalid, dispatch }: GroupProps) {
  const selected = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return (
    <fieldset className={`choice-group${invalid ? " invalid" : ""}`} data-testid={`choice-group-${group.name}`}>
      <legend>{group.name}</legend>
      {group.options.map((option) => {
        const key = keys.get(`${group.name}\u0000${option}`);
        return (
          <label key={option} className="choice-option">
            <input
              type={group.multiple ? "checkbox" : "radio"}
              name={`choice-${group.name}`}
              data-testid={`choice-${group.name}-${option}`}
              checked={selected.includes(option)}
              onChange={() => dispatch({ type: "setChoice", id: newRegionId(), name: group.name, value: nextChoiceValue(group, value, option) })}
            />
            <span>{option}</span>
            {key && <kbd>{key}</kbd>}
          </label>
        );
      })}
    </fieldset>
  );
}

/** Radio/checkbox groups from schema.choices; each group is one {"type": "choice", "name", "value"} region. */
export function ChoiceTool({ schema, regions, dispatch, invalidIds, labels }: ToolProps) {
  const groups = schema.choices ?? [];
  const reserved = new Set(labels.map((l) => l.hotkey?.toLowerCase()).filter((k): k is string => !!k));
  const keys = new Map(choiceKeys(groups, reserved).map((k) => [`${k.group}\u0000${k.option}`, k.keys]));
  const regionOf = (name: string): EditorRegion | undefined => regions.find((r) => isChoice(r) && r.name === name);
  if (groups.length === 0) return null;
  return (
    <div className="choice-tool">
      {groups.map((group) => {
        const region = regionOf(group.name);
        return (
          <ChoiceGroupField
            key={group.name}
            group={group}
            value={region && isChoice(region) ? region.value : undefined}
            keys={keys}
            invalid={!!region && invalidIds.has(region.id)}
            dispatch={dispatch}
          />
        );
      })}
    </div>
  );
}
