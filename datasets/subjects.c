/* Built-in subject tables of MMLU (57 subjects) and C-Eval (52 subjects).
 *
 * Facts of the two benchmarks, used when a data folder lacks its own
 * subject_categories.json / subject_mapping.json. MMLU categories follow the
 * standard four-way grouping used by the MMLU paper and lm-eval (the file's
 * "other (business, health, misc.)" is written "other"). C-Eval's "Hard"
 * subset is the 8 subjects marked hard.
 */
#include "datasets/subjects.h"

#include <string.h>

static const struct qe_subject_info mmlu_subjects[] = {
	/* name, english, chinese, subcategory, category, hard */
	{ "abstract_algebra", "abstract algebra", NULL, "math", "STEM", 0 },
	{ "anatomy", "anatomy", NULL, "health", "other", 0 },
	{ "astronomy", "astronomy", NULL, "physics", "STEM", 0 },
	{ "business_ethics", "business ethics", NULL, "business", "other", 0 },
	{ "clinical_knowledge", "clinical knowledge", NULL, "health", "other", 0 },
	{ "college_biology", "college biology", NULL, "biology", "STEM", 0 },
	{ "college_chemistry", "college chemistry", NULL, "chemistry", "STEM", 0 },
	{ "college_computer_science", "college computer science", NULL, "computer science", "STEM", 0 },
	{ "college_mathematics", "college mathematics", NULL, "math", "STEM", 0 },
	{ "college_medicine", "college medicine", NULL, "health", "other", 0 },
	{ "college_physics", "college physics", NULL, "physics", "STEM", 0 },
	{ "computer_security", "computer security", NULL, "computer science", "STEM", 0 },
	{ "conceptual_physics", "conceptual physics", NULL, "physics", "STEM", 0 },
	{ "econometrics", "econometrics", NULL, "economics", "social sciences", 0 },
	{ "electrical_engineering", "electrical engineering", NULL, "engineering", "STEM", 0 },
	{ "elementary_mathematics", "elementary mathematics", NULL, "math", "STEM", 0 },
	{ "formal_logic", "formal logic", NULL, "philosophy", "humanities", 0 },
	{ "global_facts", "global facts", NULL, "other", "other", 0 },
	{ "high_school_biology", "high school biology", NULL, "biology", "STEM", 0 },
	{ "high_school_chemistry", "high school chemistry", NULL, "chemistry", "STEM", 0 },
	{ "high_school_computer_science", "high school computer science", NULL, "computer science", "STEM", 0 },
	{ "high_school_european_history", "high school european history", NULL, "history", "humanities", 0 },
	{ "high_school_geography", "high school geography", NULL, "geography", "social sciences", 0 },
	{ "high_school_government_and_politics", "high school government and politics", NULL, "politics", "social sciences", 0 },
	{ "high_school_macroeconomics", "high school macroeconomics", NULL, "economics", "social sciences", 0 },
	{ "high_school_mathematics", "high school mathematics", NULL, "math", "STEM", 0 },
	{ "high_school_microeconomics", "high school microeconomics", NULL, "economics", "social sciences", 0 },
	{ "high_school_physics", "high school physics", NULL, "physics", "STEM", 0 },
	{ "high_school_psychology", "high school psychology", NULL, "psychology", "social sciences", 0 },
	{ "high_school_statistics", "high school statistics", NULL, "math", "STEM", 0 },
	{ "high_school_us_history", "high school us history", NULL, "history", "humanities", 0 },
	{ "high_school_world_history", "high school world history", NULL, "history", "humanities", 0 },
	{ "human_aging", "human aging", NULL, "health", "other", 0 },
	{ "human_sexuality", "human sexuality", NULL, "culture", "social sciences", 0 },
	{ "international_law", "international law", NULL, "law", "humanities", 0 },
	{ "jurisprudence", "jurisprudence", NULL, "law", "humanities", 0 },
	{ "logical_fallacies", "logical fallacies", NULL, "philosophy", "humanities", 0 },
	{ "machine_learning", "machine learning", NULL, "computer science", "STEM", 0 },
	{ "management", "management", NULL, "business", "other", 0 },
	{ "marketing", "marketing", NULL, "business", "other", 0 },
	{ "medical_genetics", "medical genetics", NULL, "health", "other", 0 },
	{ "miscellaneous", "miscellaneous", NULL, "other", "other", 0 },
	{ "moral_disputes", "moral disputes", NULL, "philosophy", "humanities", 0 },
	{ "moral_scenarios", "moral scenarios", NULL, "philosophy", "humanities", 0 },
	{ "nutrition", "nutrition", NULL, "health", "other", 0 },
	{ "philosophy", "philosophy", NULL, "philosophy", "humanities", 0 },
	{ "prehistory", "prehistory", NULL, "history", "humanities", 0 },
	{ "professional_accounting", "professional accounting", NULL, "other", "other", 0 },
	{ "professional_law", "professional law", NULL, "law", "humanities", 0 },
	{ "professional_medicine", "professional medicine", NULL, "health", "other", 0 },
	{ "professional_psychology", "professional psychology", NULL, "psychology", "social sciences", 0 },
	{ "public_relations", "public relations", NULL, "politics", "social sciences", 0 },
	{ "security_studies", "security studies", NULL, "politics", "social sciences", 0 },
	{ "sociology", "sociology", NULL, "culture", "social sciences", 0 },
	{ "us_foreign_policy", "us foreign policy", NULL, "politics", "social sciences", 0 },
	{ "virology", "virology", NULL, "health", "other", 0 },
	{ "world_religions", "world religions", NULL, "philosophy", "humanities", 0 },
};

static const struct qe_subject_info ceval_subjects[] = {
	/* name, english, chinese, subcategory, category, hard */
	{ "accountant", "Accountant", "注册会计师", NULL, "Other", 0 },
	{ "advanced_mathematics", "Advanced Mathematics", "高等数学", NULL, "STEM", 1 },
	{ "art_studies", "Art Studies", "艺术学", NULL, "Humanities", 0 },
	{ "basic_medicine", "Basic Medicine", "基础医学", NULL, "Other", 0 },
	{ "business_administration", "Business Administration", "工商管理", NULL, "Social Science", 0 },
	{ "chinese_language_and_literature", "Chinese Language and Literature", "中国语言文学", NULL, "Humanities", 0 },
	{ "civil_servant", "Civil Servant", "公务员", NULL, "Other", 0 },
	{ "clinical_medicine", "Clinical Medicine", "临床医学", NULL, "Other", 0 },
	{ "college_chemistry", "College Chemistry", "大学化学", NULL, "STEM", 1 },
	{ "college_economics", "College Economics", "大学经济学", NULL, "Social Science", 0 },
	{ "college_physics", "College Physics", "大学物理", NULL, "STEM", 1 },
	{ "college_programming", "College Programming", "大学编程", NULL, "STEM", 0 },
	{ "computer_architecture", "Computer Architecture", "计算机组成", NULL, "STEM", 0 },
	{ "computer_network", "Computer Network", "计算机网络", NULL, "STEM", 0 },
	{ "discrete_mathematics", "Discrete Mathematics", "离散数学", NULL, "STEM", 1 },
	{ "education_science", "Education Science", "教育学", NULL, "Social Science", 0 },
	{ "electrical_engineer", "Electrical Engineer", "注册电气工程师", NULL, "STEM", 0 },
	{ "environmental_impact_assessment_engineer", "Environmental Impact Assessment Engineer", "环境影响评价工程师", NULL, "Other", 0 },
	{ "fire_engineer", "Fire Engineer", "注册消防工程师", NULL, "Other", 0 },
	{ "high_school_biology", "High School Biology", "高中生物", NULL, "STEM", 0 },
	{ "high_school_chemistry", "High School Chemistry", "高中化学", NULL, "STEM", 1 },
	{ "high_school_chinese", "High School Chinese", "高中语文", NULL, "Humanities", 0 },
	{ "high_school_geography", "High School Geography", "高中地理", NULL, "Social Science", 0 },
	{ "high_school_history", "High School History", "高中历史", NULL, "Humanities", 0 },
	{ "high_school_mathematics", "High School Mathematics", "高中数学", NULL, "STEM", 1 },
	{ "high_school_physics", "High School Physics", "高中物理", NULL, "STEM", 1 },
	{ "high_school_politics", "High School Politics", "高中政治", NULL, "Social Science", 0 },
	{ "ideological_and_moral_cultivation", "Ideological and Moral Cultivation", "思想道德修养与法律基础", NULL, "Humanities", 0 },
	{ "law", "Law", "法学", NULL, "Humanities", 0 },
	{ "legal_professional", "Legal Professional", "法律职业资格", NULL, "Humanities", 0 },
	{ "logic", "Logic", "逻辑学", NULL, "Humanities", 0 },
	{ "mao_zedong_thought", "Mao Zedong Thought", "毛泽东思想和中国特色社会主义理论体系概论", NULL, "Social Science", 0 },
	{ "marxism", "Marxism", "马克思主义基本原理", NULL, "Social Science", 0 },
	{ "metrology_engineer", "Metrology Engineer", "注册计量师", NULL, "STEM", 0 },
	{ "middle_school_biology", "Middle School Biology", "初中生物", NULL, "STEM", 0 },
	{ "middle_school_chemistry", "Middle School Chemistry", "初中化学", NULL, "STEM", 0 },
	{ "middle_school_geography", "Middle School Geography", "初中地理", NULL, "Social Science", 0 },
	{ "middle_school_history", "Middle School History", "初中历史", NULL, "Humanities", 0 },
	{ "middle_school_mathematics", "Middle School Mathematics", "初中数学", NULL, "STEM", 0 },
	{ "middle_school_physics", "Middle School Physics", "初中物理", NULL, "STEM", 0 },
	{ "middle_school_politics", "Middle School Politics", "初中政治", NULL, "Social Science", 0 },
	{ "modern_chinese_history", "Modern Chinese History", "近代史纲要", NULL, "Humanities", 0 },
	{ "operating_system", "Operating System", "操作系统", NULL, "STEM", 0 },
	{ "physician", "Physician", "医师资格", NULL, "Other", 0 },
	{ "plant_protection", "Plant Protection", "植物保护", NULL, "Other", 0 },
	{ "probability_and_statistics", "Probability and Statistics", "概率统计", NULL, "STEM", 1 },
	{ "professional_tour_guide", "Professional Tour Guide", "导游资格", NULL, "Humanities", 0 },
	{ "sports_science", "Sports Science", "体育学", NULL, "Other", 0 },
	{ "tax_accountant", "Tax Accountant", "税务师", NULL, "Other", 0 },
	{ "teacher_qualification", "Teacher Qualification", "教师资格", NULL, "Social Science", 0 },
	{ "urban_and_rural_planner", "Urban and Rural Planner", "注册城乡规划师", NULL, "Other", 0 },
	{ "veterinary_medicine", "Veterinary Medicine", "兽医学", NULL, "STEM", 0 },
};

static const char *const mmlu_categories[] = { "STEM", "humanities", "social sciences", "other" };
static const char *const ceval_categories[] = { "STEM", "Social Science", "Humanities", "Other" };

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const struct qe_subject_info *qe_mmlu_subjects(size_t *n)
{
	*n = COUNT(mmlu_subjects);
	return mmlu_subjects;
}

const struct qe_subject_info *qe_ceval_subjects(size_t *n)
{
	*n = COUNT(ceval_subjects);
	return ceval_subjects;
}

const char *const *qe_mmlu_categories(size_t *n)
{
	*n = COUNT(mmlu_categories);
	return mmlu_categories;
}

const char *const *qe_ceval_categories(size_t *n)
{
	*n = COUNT(ceval_categories);
	return ceval_categories;
}

const struct qe_subject_info *qe_subject_find(const struct qe_subject_info *tab, size_t n,
					      const char *name)
{
	size_t lo = 0, hi = n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(name, tab[mid].name);
		if (c == 0)
			return &tab[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}
