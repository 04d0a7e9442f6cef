"""Bidirectional Llama sequence classifier, as nvidia/llama-nemotron-rerank-1b-v2 describes it, for
transformers 5 (the vkcls fixture folder `llama-bidirectional-rerank` loads it with trust_remote_code).

Written for the vkcls fixtures from the behaviour of NVIDIA's remote code (LlamaBidirectionalConfig with
`pooling` and `temperature`; every layer non-causal; pooling over the attention mask; `score` without bias;
logits / temperature) and vLLM's LlamaBidirectionalConfig (is_causal = False, pooling avg -> MEAN, cls -> CLS,
last -> LAST).  NVIDIA's file makes attention bidirectional by overriding `LlamaModel._update_causal_mask`,
which transformers 5 no longer calls: under transformers 5 that code silently runs causal attention with
eager.  Here the model passes an explicit 4-D mask instead, which transformers 5 uses as it is.
"""

import torch
from torch import nn
from transformers import LlamaConfig, LlamaModel, LlamaPreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput


class LlamaBidirectionalConfig(LlamaConfig):
    model_type = "llama_bidirec"

    def __init__(self, pooling="avg", temperature=1.0, **kwargs):
        self.pooling = pooling
        self.temperature = temperature
        super().__init__(**kwargs)


def bidirectional_mask(attention_mask, dtype):
    """[b, n] 0/1 padding mask -> [b, 1, n, n] additive mask: every query sees every non-pad key."""
    keep = attention_mask[:, None, None, :].to(dtype)
    mask = (1.0 - keep) * torch.finfo(dtype).min
    return mask.expand(-1, 1, attention_mask.shape[1], -1)


class LlamaBidirectionalModel(LlamaModel):
    config_class = LlamaBidirectionalConfig

    def __init__(self, config):
        super().__init__(config)
        for layer in self.layers:
            layer.self_attn.is_causal = False

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None, **kwargs):
        ref = input_ids if input_ids is not None else inputs_embeds
        if attention_mask is None:
            attention_mask = torch.ones(ref.shape[:2], dtype=torch.long, device=ref.device)
        if attention_mask.dim() == 2:
            attention_mask = bidirectional_mask(attention_mask, self.embed_tokens.weight.dtype)
        return super().forward(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                               **kwargs)


def pool(last_hidden, attention_mask, pool_type):
    """avg: mean over non-pad tokens; cls: first token; last: last non-pad token (right padding)."""
    m = attention_mask.to(last_hidden.dtype)[..., None]
    if pool_type == "avg":
        return (last_hidden * m).sum(1) / m.sum(1)
    if pool_type == "cls":
        return last_hidden[:, 0]
    if pool_type == "last":
        return last_hidden[torch.arange(last_hidden.shape[0]), attention_mask.sum(1) - 1]
    raise ValueError("pooling %r" % pool_type)


class LlamaBidirectionalForSequenceClassification(LlamaPreTrainedModel):
    config_class = LlamaBidirectionalConfig

    def __init__(self, config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = LlamaBidirectionalModel(config)
        self.score = nn.Linear(config.hidden_size, config.num_labels, bias=False)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None, **kwargs):
        ref = input_ids if input_ids is not None else inputs_embeds
        if attention_mask is None:
            attention_mask = torch.ones(ref.shape[:2], dtype=torch.long, device=ref.device)
        kwargs.pop("labels", None)
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds, **kwargs)
        pooled = pool(out.last_hidden_state, attention_mask, self.config.pooling)
        logits = self.score(pooled) / self.config.temperature
        return SequenceClassifierOutput(logits=logits, hidden_states=out.hidden_states)
