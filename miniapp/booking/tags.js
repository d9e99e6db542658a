// The fixed tags of a rating (modules/service_booking/rating.py TAGS):
// the codes the API takes, in the order of the server, and their words
const { t } = require('../utils/i18n.js')

const TAGS = ['punctual', 'friendly', 'professional', 'thorough', 'tidy', 'good_value', 'late', 'rushed']

function tagText(code) {
  return t('rating.tag.' + code)
}

module.exports = { TAGS, tagText }
