// What CI costs (README, "What CI costs"): the settings of the cost rules and dashboard, beside
// config.libsonnet's. Override them the same way:
//   (import 'mixin.libsonnet') + { _config+:: { costCurrency: 'EUR' } }
{
  _config+:: {
    // The currency of the exporter's price table (KUBE_NODE_PRICES_FILE): dashboard titles name it.
    costCurrency: 'USD',
    // The Grafana unit of money panels: 'currencyUSD', 'currencyEUR', 'currencyGBP', ..., or a
    // custom one such as 'suffix: credits'.
    costUnit: 'currency%s' % self.costCurrency,
    // The window of the cost recording rules; it is part of the recorded names.
    costWindow: '1h',
    // Rows of the dashboard's top lists.
    costTopK: 10,
  },
}
