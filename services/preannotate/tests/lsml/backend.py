"""A Label Studio ML backend written the way teams write theirs (a ``LabelStudioMLBase`` subclass served by
``label_studio_ml.api``), run with .venv-lsml's Python by the adapter's tests:

    python backend.py PORT

It predicts from what it has learned: a choice per text (the last label it was taught for a word in the
text, else "neutral"), spans over capitalised words, and for images a box covering the middle quarter.
``ANNOTATION_CREATED`` webhooks teach it words; each training run is a new model version (the
framework names it after the job).
"""

import os
import re
import sys

from label_studio_ml.api import init_app
from label_studio_ml.model import LabelStudioMLBase


class KeywordModel(LabelStudioMLBase):
    def taught(self):
        # The framework hands the last job's result as train_output: whole when serving, its "train_output"
        # inside a training job.
        output = self.train_output or {}
        return dict(output.get("train_output", output).get("taught", {}))

    def predict(self, tasks, **kwargs):
        taught = self.taught()
        out = []
        for task in tasks:
            data = task["data"]
            if "text" in data:
                text = data["text"]
                words = re.findall(r"\w+", text.lower())
                choice = next((taught[w] for w in reversed(words) if w in taught), "neutral")
                result = [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                           "value": {"choices": [choice]}}]
                for k, m in enumerate(re.finditer(r"\b[A-Z][a-z]+\b", text)):
                    result.append({"id": f"s{k}", "from_name": "label", "to_name": "text", "type": "labels",
                                   "value": {"start": m.start(), "end": m.end(), "text": m.group(),
                                             "labels": ["PER"]}})
                score = 0.9 if choice != "neutral" else 0.4
            else:
                result = [{"id": "b0", "from_name": "label", "to_name": "image", "type": "rectanglelabels",
                           "original_width": 200, "original_height": 100,
                           "value": {"x": 25, "y": 25, "width": 50, "height": 50, "rectanglelabels": ["cat"]}}]
                score = 0.75
            out.append({"result": result, "score": score})
        return out

    def process_event(self, event, data, job_id, additional_params):
        taught = self.taught()
        if event == "ANNOTATION_CREATED":
            text = data["task"]["data"].get("text", "")
            for r in data["annotation"]["result"]:
                if r.get("type") == "choices":
                    for w in re.findall(r"\w+", text.lower()):
                        taught[w] = r["value"]["choices"][0]
        return {"train_output": {"taught": taught}}


if __name__ == "__main__":
    os.environ.setdefault("LABEL_STUDIO_ML_BACKEND_V2", "1")
    app = init_app(model_class=KeywordModel, model_dir=os.environ.get("MODEL_DIR", "/tmp"))
    app.run(host="127.0.0.1", port=int(sys.argv[1]), debug=False, use_reloader=False)
