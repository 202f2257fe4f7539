import { useState } from "react";
import type { Api } from "../../api/client";
import type { Project } from "../../api/types";
import { describeError } from "../../auth/useSession";
import { PolicyEditor, type Policy } from "../PolicyEditor";

export async function savePolicy(api: Api, project: Project, policy: Policy): Promise<Project> {
  return api.request<Project>("PATCH", `/projects/${encodeURIComponent(project.id)}`, { policy });
}

export function PolicyTab({ api, project, onChanged }: { api: Api; project: Project; onChanged(p: Project): void }) {
  const [policy, setPolicy] = useState<Policy>(project.policy);
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const save = async () => {
    setError(null);
    try {
      const updated = await savePolicy(api, project, policy);
      onChanged(updated);
      setMessage("Policy saved: it applies to items and rounds from now on.");
    } catch (e) {
      setError(describeError(e));
    }
  };
  return (
    <div>
      <PolicyEditor policy={policy} onChange={setPolicy} />
      <div className="button-row">
        <button type="button" className="primary" data-testid="policy-save" onClick={() => void save()}>
          Save policy
        </button>
        {message && <span data-testid="policy-saved">{message}</span>}
        {error && (
          <span className="form-error" role="alert" data-testid="policy-error">
            {error}
          </span>
        )}
      </div>
    </div>
  );
}
