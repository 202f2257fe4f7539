import { isChoice, newRegionId } from "../../editor/regions";
import type { ToolPlugin } from "../types";
import { ChoiceTool } from "./ChoiceTool";
import { choiceKeys, nextChoiceValue } from "./choiceKeys";

export const choiceTool: ToolPlugin = {
  name: "choice",
  title: "Choices",
  modalities: ["image", "text", "audio", "video"],
  placement: "panel",
  regionTypes: ["choice"],
  usesLabels: false,
  Component: ChoiceTool,
  shortcuts({ schema, reservedKeys }) {
    const groups = schema.choices ?? [];
    return choiceKeys(groups, reservedKeys).map((k) => ({
      keys: k.keys,
      combo: k.combo,
      description: `${k.group}: ${k.option}`,
      run(editor) {
        const group = groups.find((g) => g.name === k.group)!;
        const current = editor.regions().find((r) => isChoice(r) && r.name === k.group);
        const value = current && isChoice(current) ? current.value : undefined;
        editor.dispatch({ type: "setChoice", id: newRegionId(), name: k.group, value: nextChoiceValue(group, value, k.option) });
      },
    }));
  },
};
